//! Turns for the writers of one record within this process.
//!
//! Optimistic concurrency alone lets two local writers of a record race, and one of them then
//! loses its transaction. With the Dapr outbox a lost transaction is worse than a retry (measured
//! against daprd 1.18.2): the outbox has already announced the transaction on its coordination
//! topic, and when the transaction fails the message waits for state that never comes, retried
//! forever without a pause, pinning one of the pub/sub component's workers (10 by default); once
//! enough are pinned, no event on that component is delivered at all. On redis, which does not
//! roll back, the refused write's event is published instead. Taking turns per record inside the
//! process, and checking the ETag before the transaction, keeps this process's own writers from
//! ever producing such a transaction; the optimistic retry still covers writers elsewhere.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// One lock per key, created on demand and forgotten when nobody holds or awaits it.
#[derive(Debug)]
pub struct LocalLocks<K> {
    locks: Mutex<HashMap<K, Weak<AsyncMutex<()>>>>,
}

impl<K> Default for LocalLocks<K> {
    fn default() -> Self {
        Self {
            locks: Mutex::new(HashMap::new()),
        }
    }
}

/// A held turn: the key is free again when it is dropped.
pub type Turn = OwnedMutexGuard<()>;

impl<K: Clone + Eq + Hash + Ord> LocalLocks<K> {
    /// Waits for the turn of `key`.
    pub async fn lock(&self, key: &K) -> Turn {
        self.mutex_of(key).lock_owned().await
    }

    /// Waits for the turns of all `keys`, taken in sorted order so that two callers with
    /// overlapping keys cannot deadlock.
    pub async fn lock_all(&self, keys: &[K]) -> Vec<Turn> {
        let mut sorted = keys.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut turns = Vec::with_capacity(sorted.len());
        for key in &sorted {
            turns.push(self.lock(key).await);
        }
        turns
    }

    fn mutex_of(&self, key: &K) -> Arc<AsyncMutex<()>> {
        // Never held across an await; a panic elsewhere cannot leave the map inconsistent.
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Entries of keys nobody holds any more: dropping them keeps the map as small as the
        // number of writes in flight.
        locks.retain(|_, mutex| mutex.strong_count() > 0);
        if let Some(mutex) = locks.get(key).and_then(Weak::upgrade) {
            return mutex;
        }
        let mutex = Arc::new(AsyncMutex::new(()));
        locks.insert(key.clone(), Arc::downgrade(&mutex));
        mutex
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_key_is_held_by_one_writer_at_a_time() {
        let locks = Arc::new(LocalLocks::default());
        let first = locks.lock(&"a").await;
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move { drop(locks.lock(&"a").await) }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished(), "a second writer got the held key");
        drop(first);
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let locks = LocalLocks::default();
        let _a = locks.lock(&"a").await;
        let _b = tokio::time::timeout(Duration::from_secs(1), locks.lock(&"b"))
            .await
            .expect("b is free");
    }

    #[tokio::test]
    async fn keys_are_forgotten_once_released() {
        let locks = LocalLocks::default();
        drop(locks.lock_all(&["b", "a", "b"]).await);
        let _c = locks.lock(&"c").await;
        assert_eq!(locks.tracked(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_sets_taken_in_any_order_do_not_deadlock() {
        let locks = Arc::new(LocalLocks::default());
        let runs: Vec<_> = [["a", "b"], ["b", "a"], ["b", "a"], ["a", "b"]]
            .into_iter()
            .map(|keys| {
                let locks = locks.clone();
                tokio::spawn(async move {
                    let _turns = locks.lock_all(&keys).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                })
            })
            .collect();
        for run in runs {
            tokio::time::timeout(Duration::from_secs(1), run)
                .await
                .expect("no deadlock")
                .unwrap();
        }
    }
}
