//! SaaS accounts: one per person across organizations, unique by case-folded email, with an
//! optional argon2id password (SCIM-provisioned accounts have none until they accept the invite).

use std::sync::LazyLock;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::accounts::{self, Entity as Accounts};
use crate::ids::AccountId;
use crate::secret::{check_password_policy, hash_password, verify_password};
use crate::types::Email;
use crate::{StoreError, StoreResult};

/// An account row.
pub type Account = accounts::Model;

/// The name an account is created with: `name` when it has any text, else the email.
pub fn display_name(email: &Email, name: Option<&str>) -> String {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| email.as_str().to_owned())
}

fn new_row(
    email: &Email,
    name: Option<&str>,
    password_hash: Option<String>,
) -> accounts::ActiveModel {
    let at = now();
    accounts::ActiveModel {
        uid: Set(new_uid()),
        email: Set(email.as_str().to_owned()),
        email_normalized: Set(email.normalized()),
        name: Set(display_name(email, name)),
        password_hash: Set(password_hash),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// Creates an account; a second account with the same email in any letter case is a conflict.
pub async fn create(
    conn: &impl Conn,
    email: &Email,
    name: Option<&str>,
    password: Option<&str>,
) -> StoreResult<Account> {
    let password_hash = match password {
        Some(pw) => {
            check_password_policy(pw)?;
            Some(hash_password(pw)?)
        }
        None => None,
    };
    Accounts::insert(new_row(email, name, password_hash))
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "account"))
}

/// Returns the account with this email, creating it (without password) if there is none. One
/// statement, safe under concurrency: the unique index decides, and on a conflict the existing row
/// is returned unchanged (the "update" rewrites the key with itself, so `RETURNING` yields it).
pub async fn ensure(conn: &impl Conn, email: &Email, name: Option<&str>) -> StoreResult<Account> {
    Ok(Accounts::insert(new_row(email, name, None))
        .on_conflict(
            OnConflict::column(accounts::Column::EmailNormalized)
                .update_column(accounts::Column::EmailNormalized)
                .to_owned(),
        )
        .exec_with_returning(conn.raw())
        .await?)
}

/// Finds an account by email, ignoring letter case.
pub async fn find_by_email(conn: &impl Conn, email: &Email) -> StoreResult<Option<Account>> {
    Ok(Accounts::find()
        .filter(accounts::Column::EmailNormalized.eq(email.normalized()))
        .one(conn.raw())
        .await?)
}

/// Finds an account by its public id.
pub async fn find_by_uid(conn: &impl Conn, uid: &str) -> StoreResult<Option<Account>> {
    Ok(Accounts::find()
        .filter(accounts::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?)
}

/// Finds an account by its internal id.
pub async fn find_by_id(conn: &impl Conn, id: AccountId) -> StoreResult<Option<Account>> {
    Ok(Accounts::find_by_id(id).one(conn.raw()).await?)
}

/// The argon2id hash of a random value, made once: verifying against it takes as long as a real
/// check and never succeeds.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&crate::secret::random_token(24)).unwrap_or_default());

/// Checks an email and password. Unknown emails cost an argon2 verification too, so response time
/// does not reveal which addresses have accounts.
pub async fn verify_login(
    conn: &impl Conn,
    email: &str,
    password: &str,
) -> StoreResult<Option<Account>> {
    let account = match Email::parse(email) {
        Ok(email) => find_by_email(conn, &email).await?,
        Err(_) => None,
    };
    let hash = account
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| DECOY_HASH.clone());
    let ok = verify_password(password, &hash);
    Ok(account.filter(|a| ok && a.password_hash.is_some()))
}

/// Sets (or replaces) an account's password.
pub async fn set_password(
    conn: &impl Conn,
    account: Account,
    password: &str,
) -> StoreResult<Account> {
    check_password_policy(password)?;
    let mut row: accounts::ActiveModel = account.into();
    row.password_hash = Set(Some(hash_password(password)?));
    row.updated_at = Set(now());
    Ok(row.update(conn.raw()).await?)
}

/// Accounts by internal ids (in chunks, for large membership changes).
pub async fn by_ids(conn: &impl Conn, ids: &[AccountId]) -> StoreResult<Vec<Account>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            Accounts::find()
                .filter(accounts::Column::Id.is_in(chunk.iter().copied()))
                .all(conn.raw())
                .await?,
        );
    }
    Ok(out)
}
