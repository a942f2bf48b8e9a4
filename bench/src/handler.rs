//! The handler every mode runs: `GetAccount` from memory, one fixed account.
//!
//! It does the input check a real handler does and builds a reply of the
//! real shape, but touches no store, so the hop rather than the handler
//! dominates what the benchmark measures.

use mesh::input;
use mesh_proto::accounts::v1::{
    Account, AccountStatus, CreditRequest, DebitRequest, DepositRequest, FreezeAccountRequest,
    GetAccountRequest, LedgerEntry, ListAccountsRequest, ListAccountsResponse,
    ListLedgerEntriesRequest, ListLedgerEntriesResponse, OpenAccountRequest,
    accounts_server::Accounts,
};
use tonic::{Request, Response, Status};

/// The one account the target knows (`meshctl load --account`, h2load's body).
pub const BENCH_ACCOUNT_ID: &str = "9b2f7c1e-4d3a-4e8b-9f60-5a1c2d3e4f50";

/// `accounts.v1.Accounts` with `GetAccount` answered from memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct BenchAccounts;

#[tonic::async_trait]
impl Accounts for BenchAccounts {
    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        let id = input::id("account_id", &request.get_ref().account_id)
            .map_err(|e| Status::invalid_argument(e.0))?;
        if id != BENCH_ACCOUNT_ID {
            return Err(Status::not_found("account not found"));
        }
        Ok(Response::new(Account {
            account_id: BENCH_ACCOUNT_ID.to_owned(),
            owner: "loadgen".to_owned(),
            currency: "EUR".to_owned(),
            balance_minor: 125_000,
            status: AccountStatus::Active.into(),
            created_at: "2026-12-01T00:00:00Z".to_owned(),
        }))
    }

    async fn open_account(
        &self,
        _: Request<OpenAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        Err(unmeasured())
    }

    async fn list_accounts(
        &self,
        _: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        Err(unmeasured())
    }

    async fn deposit(&self, _: Request<DepositRequest>) -> Result<Response<LedgerEntry>, Status> {
        Err(unmeasured())
    }

    async fn freeze_account(
        &self,
        _: Request<FreezeAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        Err(unmeasured())
    }

    async fn list_ledger_entries(
        &self,
        _: Request<ListLedgerEntriesRequest>,
    ) -> Result<Response<ListLedgerEntriesResponse>, Status> {
        Err(unmeasured())
    }

    async fn debit(&self, _: Request<DebitRequest>) -> Result<Response<LedgerEntry>, Status> {
        Err(unmeasured())
    }

    async fn credit(&self, _: Request<CreditRequest>) -> Result<Response<LedgerEntry>, Status> {
        Err(unmeasured())
    }
}

fn unmeasured() -> Status {
    Status::unimplemented("the benchmark target serves GetAccount only")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(id: &str) -> Result<Account, Status> {
        let request = Request::new(GetAccountRequest {
            account_id: id.to_owned(),
        });
        BenchAccounts
            .get_account(request)
            .await
            .map(Response::into_inner)
    }

    #[tokio::test]
    async fn answers_the_bench_account() {
        let account = get(BENCH_ACCOUNT_ID).await.expect("the bench account");
        assert_eq!(account.account_id, BENCH_ACCOUNT_ID);
        assert_eq!(account.status(), AccountStatus::Active);
    }

    #[tokio::test]
    async fn other_ids_are_not_found_and_bad_ids_invalid() {
        let other = get("1b2f7c1e-4d3a-4e8b-9f60-5a1c2d3e4f50")
            .await
            .expect_err("refused");
        assert_eq!(other.code(), tonic::Code::NotFound);
        let bad = get("not-an-id").await.expect_err("refused");
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    }
}
