//! Private key files must be the owner's alone, as OpenSSH insists for
//! its identity files: a key that anyone in the group (or anyone at all)
//! may read is an identity anyone may take. Such a file is refused, with
//! the command that fixes it, instead of being loaded silently.

use std::{fs, io, os::unix::fs::PermissionsExt, path::Path};

/// Permission bits that let someone other than the owner in.
const GROUP_OR_OTHER: u32 = 0o077;

/// A private key file that others may read or write.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is open to group or others (mode {mode:04o}); a private key must be the \
     owner's alone: run `chmod 600 {path}`"
)]
pub struct OpenKeyFile {
    /// The file at fault.
    pub path: String,
    /// Its permission bits.
    pub mode: u32,
}

/// Checks that only its owner may read or write the key file `path` (the
/// target of a symbolic link, as mounted secrets often are).
pub fn check_key_file(path: &Path) -> io::Result<Result<(), OpenKeyFile>> {
    let mode = fs::metadata(path)?.permissions().mode() & 0o7777;
    if mode & GROUP_OR_OTHER == 0 {
        Ok(Ok(()))
    } else {
        Ok(Err(OpenKeyFile {
            path: path.display().to_string(),
            mode,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owner_only_files_pass() {
        let path = std::env::temp_dir().join(format!("mesh-key-mode-{}.pem", std::process::id()));
        fs::write(&path, "k").expect("write");
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, false),
            (0o644, false),
            (0o602, false),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            let outcome = check_key_file(&path).expect("stat");
            assert_eq!(outcome.is_ok(), ok, "{mode:o}");
            if let Err(open) = outcome {
                let message = open.to_string();
                assert!(
                    message.contains(&format!("chmod 600 {}", path.display())),
                    "{message}"
                );
                assert!(message.contains(&format!("{mode:04o}")), "{message}");
            }
        }
        fs::remove_file(&path).expect("clean up");
    }
}
