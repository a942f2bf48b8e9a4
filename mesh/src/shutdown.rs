//! The shutdown signal: SIGTERM (what orchestrators send) or Ctrl-C, and,
//! under a supervisor that asks for it (`MESH_EXIT_WITH_PARENT`), the end
//! of standard input: the supervisor holds the other end of that pipe, so
//! it closes when the supervisor dies, even by SIGKILL, and no workload is
//! left running without it.

/// The variable a supervisor sets to tie a workload's life to its own.
pub const EXIT_WITH_PARENT: &str = "MESH_EXIT_WITH_PARENT";

/// Completes on the first SIGTERM or SIGINT, or when the supervisor is gone.
pub async fn signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops this process");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
        () = parent_gone() => {}
    }
}

/// With [`EXIT_WITH_PARENT`] set, completes when standard input ends;
/// otherwise never.
async fn parent_gone() {
    if std::env::var_os(EXIT_WITH_PARENT).is_none_or(|v| v.is_empty() || v == "0") {
        return std::future::pending().await;
    }
    let (gone, wait) = tokio::sync::oneshot::channel::<()>();
    // A detached thread: a blocking read must not hold the runtime open
    // at exit, which `spawn_blocking` would.
    let spawned = std::thread::Builder::new()
        .name("parent-lifeline".to_owned())
        .spawn(move || {
            use std::io::Read;
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = gone.send(());
        });
    if spawned.is_err() {
        return std::future::pending().await;
    }
    let _ = wait.await;
    tracing::warn!("the supervising process is gone: shutting down");
}

/// A token cancelled on the first SIGTERM or SIGINT, for a process that
/// runs several servers and stops them together.
pub fn token() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal().await;
        cancel.cancel();
    });
    token
}
