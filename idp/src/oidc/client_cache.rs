//! Registered clients as the endpoints of a login read them, remembered for the rest of the
//! second.
//!
//! `/token`, `/introspect` and `/revoke` authenticate their client on every call; at thousands
//! of calls a second, reading the client's row was most of a `client_credentials` token's cost
//! (one SQLite round trip to the connection's own thread, and sqlx's ping when the connection
//! goes back to the pool; see docs/benchmarks.md). The login pages read their client here
//! too (`/authorize`, the sign-in page's name, the code's issue): at a few logins a second,
//! most of those reads are answered from memory. A client changed or removed through this
//! process (admin console, REST API) is forgotten at once; one changed by another process (the
//! CLI, another instance) is seen within a second, like the platform settings. Unknown client
//! ids are never remembered, so made-up ids cannot fill the memory.

use crate::store::clients::{self, Client};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use stepgate_core::db::Db;
use stepgate_core::Error;

/// Far more clients than a deployment registers; when reached, the memory starts over.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct ClientCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by `forget_all`, so that a read which started before a change does not store
    /// what it read.
    generation: u64,
    /// Client id → (the second it was read in, the client).
    map: HashMap<String, (i64, Client)>,
}

impl ClientCache {
    /// The client as read in this second (`now`, in unix seconds), else read now.
    pub async fn get(&self, db: &Db, client_id: &str, now: i64) -> Result<Option<Client>, Error> {
        let generation = {
            let inner = self.lock();
            if let Some((at, client)) = inner.map.get(client_id) {
                if *at == now {
                    return Ok(Some(client.clone()));
                }
            }
            inner.generation
        };
        let found = clients::get(db, client_id).await?;
        let mut inner = self.lock();
        if inner.generation == generation {
            match &found {
                Some(client) => {
                    if inner.map.len() >= CAPACITY {
                        inner.map.clear();
                    }
                    inner
                        .map
                        .insert(client_id.to_string(), (now, client.clone()));
                }
                None => {
                    inner.map.remove(client_id);
                }
            }
        }
        Ok(found)
    }

    /// After any change to a client made through this process.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map holds no invariant a panicking holder could break.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clients::{GrantType, NewClient, SigningAlg};
    use std::time::Duration;

    fn new_client(id: &str) -> NewClient {
        NewClient {
            client_id: id.into(),
            name: id.into(),
            public: false,
            redirect_uris: vec!["https://app.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scopes: vec![],
            api_scopes: vec![],
            allowed_groups: vec![],
            require_2fa: false,
            id_token_alg: SigningAlg::Es256,
        }
    }

    #[tokio::test]
    async fn a_change_elsewhere_is_seen_the_next_second_and_forget_all_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2, Duration::from_secs(5)).await.unwrap();
        let cache = ClientCache::default();
        let now = 1_000;
        assert!(cache.get(&db, "svc", now).await.unwrap().is_none());
        clients::create(&db, new_client("svc"), now).await.unwrap();
        // Unknown ids are not remembered: the new client is found in the same second.
        let first = cache.get(&db, "svc", now).await.unwrap().expect("svc");

        // Another process rotates the secret: this second still answers from memory...
        clients::rotate_secret(&db, "svc", now).await.unwrap();
        let same = cache.get(&db, "svc", now).await.unwrap().expect("svc");
        assert_eq!(same.secret_hash, first.secret_hash);
        // ...the next second reads the new one.
        let next = cache.get(&db, "svc", now + 1).await.unwrap().expect("svc");
        assert_ne!(next.secret_hash, first.secret_hash);

        // A change through this process forgets at once.
        clients::remove(&db, "svc").await.unwrap();
        cache.forget_all();
        assert!(cache.get(&db, "svc", now + 1).await.unwrap().is_none());
    }
}
