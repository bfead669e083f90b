//! The writer's statements, prepared once per connection: each hot statement is parsed and
//! planned by the server the first time only (a statement given as text is prepared anew at
//! every call, and the writer's server process is the cluster engine's bottleneck). The cache
//! lives with the writer task (`PREPARED`, a task-local); elsewhere a statement is prepared
//! for the call, as before. The writer forgets it when its connection is made again.

use super::failed;
use crate::store::error::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use tokio_postgres::{GenericClient, Statement};

tokio::task_local! {
    /// The statements prepared on the writer's connection, by their text.
    pub static PREPARED: RefCell<HashMap<&'static str, Statement>>;
}

/// A connection's or a transaction's statements, from the writer's cache when it has them.
pub trait Prepare {
    /// `sql` prepared on this transaction's connection (once per connection in the writer).
    fn prepared(
        &self,
        sql: &'static str,
    ) -> impl Future<Output = Result<Statement, StoreError>> + Send;
}

impl<C: GenericClient + Sync> Prepare for C {
    async fn prepared(&self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Ok(Some(statement)) = PREPARED.try_with(|cache| cache.borrow().get(sql).cloned()) {
            return Ok(statement);
        }
        let statement = self
            .prepare(sql)
            .await
            .map_err(|e| failed("preparing a statement", e))?;
        let _ = PREPARED.try_with(|cache| cache.borrow_mut().insert(sql, statement.clone()));
        Ok(statement)
    }
}

/// Forgets the writer's statements (its connection was made again: they were the old one's).
pub fn forget() {
    let _ = PREPARED.try_with(|cache| cache.borrow_mut().clear());
}
