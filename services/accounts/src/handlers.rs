//! The gRPC handlers of `accounts.v1.Accounts`. The policy layer has already
//! checked the peer, the token, its scopes and roles; each handler checks
//! its input, applies the object-level rule (a USER sees only their own
//! accounts, MANAGER and ADMIN see all) and calls the store.

use mesh::{Caller, input, paging::Page};
use mesh_proto::accounts::v1::{
    Account, CreditRequest, DebitRequest, DepositRequest, FreezeAccountRequest, GetAccountRequest,
    LedgerEntry, ListAccountsRequest, ListAccountsResponse, ListLedgerEntriesRequest,
    ListLedgerEntriesResponse, OpenAccountRequest, accounts_server::Accounts,
};
use tonic::{Request, Response, Status};

use crate::{
    Error,
    store::{AccountRow, EntryRow, Kind, MoneyRequest, Store},
};

/// The accounts service: handlers over one [`Store`].
#[derive(Debug, Clone)]
pub(crate) struct AccountsService {
    store: Store,
}

impl AccountsService {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }

    /// Account `id` if `caller` may see it. Someone else's account is
    /// NOT_FOUND, exactly like one that does not exist.
    async fn visible(&self, caller: &Caller, id: &str) -> Result<AccountRow, Error> {
        let id = input::id("account_id", id)?;
        self.store
            .account(id)
            .await?
            .filter(|account| caller.may_access(&account.owner))
            .ok_or(Error::NotFound)
    }

    /// Checks and applies a deposit, debit or credit for `caller`, its
    /// key in the caller's scope.
    async fn apply(
        &self,
        caller: &Caller,
        kind: Kind,
        account_id: &str,
        amount_minor: i64,
        currency: &str,
        reference: &str,
    ) -> Result<EntryRow, Error> {
        // A debit pays only from the token subject's own account (case 47:
        // staff see every account but pay from none). A workload's own
        // token (payments or orders finishing a charge recorded with the
        // owner's authority) owns nothing and is let through, as before.
        let payer =
            (kind == Kind::Debit && caller.subject_workload().is_none()).then(|| caller.subject());
        let request = MoneyRequest {
            kind,
            scope: caller.idempotency_scope(),
            payer,
            reference: input::key(kind.reference_field(), reference)?,
            account_id: input::id("account_id", account_id)?,
            amount_minor: input::amount(amount_minor)?,
            currency: input::currency(currency)?,
        };
        self.store.apply(&request).await
    }
}

#[tonic::async_trait]
impl Accounts for AccountsService {
    async fn open_account(
        &self,
        request: Request<OpenAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        let caller = Caller::of(&request)?;
        let currency = input::currency(&request.get_ref().currency).map_err(Error::from)?;
        // The owner is the token's subject; nothing in the request can set it.
        let account = self.store.open_account(caller.subject(), currency).await?;
        tracing::info!(account = %account.id, owner = %account.owner, "opened an account");
        Ok(Response::new(account.into_proto()))
    }

    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        let caller = Caller::of(&request)?;
        let account = self.visible(caller, &request.get_ref().account_id).await?;
        Ok(Response::new(account.into_proto()))
    }

    async fn list_accounts(
        &self,
        request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let message = request.get_ref();
        let page = Page::parse(message.page_size, &message.page_token).map_err(Error::from)?;
        let owner = if caller.claims().is_staff() {
            Some(message.owner.as_str()).filter(|owner| !owner.is_empty())
        } else if message.owner.is_empty() || message.owner == caller.subject() {
            Some(caller.subject())
        } else {
            return Err(Error::Forbidden(
                "only MANAGER and ADMIN may list other subjects' accounts",
            )
            .into());
        };
        let mut rows = self.store.accounts(owner, &page).await?;
        let next_page_token = page.finish(&mut rows, |account| &account.id);
        Ok(Response::new(ListAccountsResponse {
            accounts: rows.into_iter().map(AccountRow::into_proto).collect(),
            next_page_token,
        }))
    }

    async fn deposit(
        &self,
        request: Request<DepositRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        // Only MANAGER and ADMIN get here (the policy table), and they may
        // act on every account.
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let entry = self
            .apply(
                caller,
                Kind::Deposit,
                &m.account_id,
                m.amount_minor,
                &m.currency,
                &m.idempotency_key,
            )
            .await?;
        tracing::info!(by = caller.subject(), account = %m.account_id, amount = m.amount_minor, "deposit");
        Ok(Response::new(entry.into_proto()))
    }

    async fn freeze_account(
        &self,
        request: Request<FreezeAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let id = input::id("account_id", &m.account_id).map_err(Error::from)?;
        let reason = input::text("reason", &m.reason).map_err(Error::from)?;
        let account = self.store.freeze(id).await?.ok_or(Error::NotFound)?;
        tracing::warn!(
            by = caller.subject(),
            account = id,
            reason,
            "froze an account"
        );
        Ok(Response::new(account.into_proto()))
    }

    async fn list_ledger_entries(
        &self,
        request: Request<ListLedgerEntriesRequest>,
    ) -> Result<Response<ListLedgerEntriesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let account = self.visible(caller, &m.account_id).await?;
        let page = Page::parse(m.page_size, &m.page_token).map_err(Error::from)?;
        let mut rows = self.store.entries(&account.id, &page).await?;
        let next_page_token = page.finish(&mut rows, EntryRow::id);
        Ok(Response::new(ListLedgerEntriesResponse {
            entries: rows.into_iter().map(EntryRow::into_proto).collect(),
            next_page_token,
        }))
    }

    /// Only `payments` gets here, with a valid token: it checked, with the
    /// user's token, that the account is the user's before it recorded the
    /// payment, and the debit checks it again (defence in depth), unless
    /// the token is a workload's own (a resumed charge), which owns nothing.
    async fn debit(&self, request: Request<DebitRequest>) -> Result<Response<LedgerEntry>, Status> {
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let entry = self
            .apply(
                caller,
                Kind::Debit,
                &m.account_id,
                m.amount_minor,
                &m.currency,
                &m.payment_id,
            )
            .await?;
        Ok(Response::new(entry.into_proto()))
    }

    /// Only `payments` gets here, for a refund of a payment it captured.
    async fn credit(
        &self,
        request: Request<CreditRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let entry = self
            .apply(
                caller,
                Kind::Credit,
                &m.account_id,
                m.amount_minor,
                &m.currency,
                &m.refund_id,
            )
            .await?;
        Ok(Response::new(entry.into_proto()))
    }
}
