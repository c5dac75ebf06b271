//! Waiting for a real condition against a deadline: the check runs, and runs again after a
//! short pause, until it holds or the deadline passes. Tests never sleep to synchronise.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] checks.
const EVERY: Duration = Duration::from_millis(20);

/// A condition that did not come true in time.
#[derive(Debug)]
pub struct Timeout<E> {
    /// What was awaited, as the caller named it.
    pub what: String,
    /// How long it was awaited.
    pub limit: Duration,
    /// The last error the check returned, if any: often the reason.
    pub last_error: Option<E>,
}

impl<E> fmt::Display for Timeout<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}",
            self.limit, self.what
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Timeout<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last_error.as_ref().map(|e| e as _)
    }
}

impl From<Timeout<std::io::Error>> for std::io::Error {
    fn from(timeout: Timeout<std::io::Error>) -> Self {
        Self::new(std::io::ErrorKind::TimedOut, timeout)
    }
}

/// The deadline and the last error of one wait, for the blocking and the async loop alike.
struct Attempts<'a, E> {
    what: &'a str,
    limit: Duration,
    deadline: Instant,
    last_error: Option<E>,
}

impl<'a, E> Attempts<'a, E> {
    fn new(what: &'a str, limit: Duration) -> Self {
        Self {
            what,
            limit,
            deadline: Instant::now() + limit,
            last_error: None,
        }
    }

    /// Takes one check's outcome: the end of the wait (its value, or the timeout once the
    /// deadline has passed), or `None` to check again.
    fn end<T>(&mut self, outcome: Result<Option<T>, E>) -> Option<Result<T, Timeout<E>>> {
        match outcome {
            Ok(Some(value)) => return Some(Ok(value)),
            Ok(None) => {}
            Err(e) => self.last_error = Some(e),
        }
        (Instant::now() > self.deadline).then(|| {
            Err(Timeout {
                what: self.what.to_owned(),
                limit: self.limit,
                last_error: self.last_error.take(),
            })
        })
    }
}

/// Runs `check` every `every` until it yields `Ok(Some(value))`, for at most `limit`, and
/// returns the value. `Ok(None)` and `Err(_)` both mean "not yet"; the last error is kept
/// for the [`Timeout`], which names `what`.
///
/// # Errors
///
/// When the deadline passes.
pub async fn poll<T, E, F, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, Timeout<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let mut attempts = Attempts::new(what, limit);
    loop {
        if let Some(end) = attempts.end(check().await) {
            return end;
        }
        tokio::time::sleep(every).await;
    }
}

/// [`poll`] for code outside a runtime: blocks the thread between checks.
///
/// # Errors
///
/// When the deadline passes.
pub fn poll_blocking<T, E>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<Option<T>, E>,
) -> Result<T, Timeout<E>> {
    let mut attempts = Attempts::new(what, limit);
    loop {
        if let Some(end) = attempts.end(check()) {
            return end;
        }
        std::thread::sleep(every);
    }
}

/// Awaits `check` every 20 ms until it yields `Some(value)` and returns the value.
///
/// # Panics
///
/// When `limit` passes first, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let checked = poll(what, limit, EVERY, || {
        let next = check();
        async move { Ok::<_, std::convert::Infallible>(next.await) }
    });
    checked.await.unwrap_or_else(|timeout| panic!("{timeout}"))
}

/// Blocks until `done` holds, checking about every millisecond: often enough to catch a
/// running process at a given point (a byte count, a state) before it moves on.
///
/// # Panics
///
/// When `limit` passes first, naming `what`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let checked = poll_blocking(what, limit, Duration::from_millis(1), || {
        Ok::<_, std::convert::Infallible>(done().then_some(()))
    });
    checked.unwrap_or_else(|timeout| panic!("{timeout}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocking_poll_returns_the_value_once_the_check_yields_it() {
        let mut calls = 0;
        let value = poll_blocking(
            "the third call",
            Duration::from_secs(5),
            Duration::ZERO,
            || {
                calls += 1;
                Ok::<_, String>((calls == 3).then_some(calls * 10))
            },
        );
        assert_eq!(value.unwrap(), 30);
        assert_eq!(calls, 3);
    }

    #[test]
    fn a_timeout_names_the_condition_and_keeps_the_last_error() {
        let mut calls = 0;
        let started = Instant::now();
        let timeout = poll_blocking(
            "a door that never opens",
            Duration::from_millis(50),
            Duration::from_millis(5),
            || -> Result<Option<()>, String> {
                calls += 1;
                Err(format!("still shut ({calls})"))
            },
        )
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(calls > 1, "it checked again before giving up");
        assert_eq!(timeout.last_error, Some(format!("still shut ({calls})")));
        assert_eq!(
            timeout.to_string(),
            "timed out after 50ms waiting for a door that never opens"
        );
    }

    #[test]
    fn an_io_timeout_keeps_its_cause() {
        let cause = std::io::Error::other("connection refused");
        let error = std::io::Error::from(Timeout {
            what: "the server".to_owned(),
            limit: Duration::from_secs(1),
            last_error: Some(cause),
        });
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("connection refused"));
    }

    #[tokio::test]
    async fn eventually_checks_again_until_the_condition_holds() {
        let mut calls = 0;
        let seen = eventually("the third call", Duration::from_secs(5), || {
            calls += 1;
            let n = calls;
            async move { (n == 3).then_some(n) }
        })
        .await;
        assert_eq!(seen, 3);
    }

    #[test]
    fn wait_until_returns_once_the_condition_holds() {
        let mut calls = 0;
        wait_until("the second call", Duration::from_secs(5), || {
            calls += 1;
            calls == 2
        });
        assert_eq!(calls, 2);
    }

    #[test]
    #[should_panic(expected = "timed out after 10ms waiting for the impossible")]
    fn wait_until_fails_the_test_on_timeout() {
        wait_until("the impossible", Duration::from_millis(10), || false);
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 10ms waiting for the impossible")]
    async fn eventually_fails_the_test_on_timeout() {
        eventually("the impossible", Duration::from_millis(10), || async {
            None::<()>
        })
        .await;
    }
}
