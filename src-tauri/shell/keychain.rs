//! The API key in the OS keychain: the Keychain on macOS, the Credential Manager on Windows,
//! the Secret Service (GNOME Keyring, KWallet) on Linux, through the `keyring` crate.
//!
//! The key is never written to a file, a log, an error message or an IPC payload: errors
//! here are worded from the error's kind, never from anything that could hold the secret.
//! Every call may block on the OS (a D-Bus round trip, or a prompt to unlock the keyring),
//! so callers run them off the async runtime's workers.

use std::sync::mpsc;
use std::time::Duration;

use crate::ipc::{CommandError, ErrorCode};

/// The keychain entry of the app's API key.
pub const SERVICE: &str = "tl-uploader";
/// The entry's user name.
pub const USER: &str = "api-key";

/// What [`Keychain::probe`] found.
#[derive(Debug)]
pub struct Probe {
    /// Whether the keychain can be reached.
    pub available: bool,
    /// The stored key, if any, or why it could not be read.
    pub key: Result<Option<String>, CommandError>,
}

/// One keychain entry, or none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keychain {
    /// `(service, user)`, or `None` when the keychain is not to be used.
    entry: Option<(String, String)>,
}

impl Keychain {
    /// The app's entry: service `tl-uploader`, user `api-key`.
    pub fn app() -> Self {
        Self::new(SERVICE, USER)
    }

    /// Another entry (tests use their own, so they never touch the user's key).
    pub fn new(service: &str, user: &str) -> Self {
        Self {
            entry: Some((service.to_owned(), user.to_owned())),
        }
    }

    /// No keychain: nothing is read or stored, and saving a key is refused.
    pub fn disabled() -> Self {
        Self { entry: None }
    }

    /// Whether the OS keychain can be reached (decided once per process by `keyring`).
    pub fn available(&self) -> bool {
        self.entry.is_some() && keyring::Entry::store_status().is_ok()
    }

    fn open(&self) -> Result<keyring::Entry, CommandError> {
        let Some((service, user)) = &self.entry else {
            return Err(CommandError::new(
                ErrorCode::Io,
                "the OS keychain is turned off in this run, so the API key cannot be stored",
            ));
        };
        keyring::Entry::new(service, user).map_err(describe)
    }

    /// The stored key, `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Io`] when the keychain cannot be reached or read.
    pub fn get(&self) -> Result<Option<String>, CommandError> {
        if self.entry.is_none() {
            return Ok(None);
        }
        match self.open()?.get_password() {
            Ok(key) => Ok(Some(key).filter(|k| !k.trim().is_empty())),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }

    /// Whether the keychain can be reached, and the stored key, giving up after `limit`.
    /// Both may wait on the OS (D-Bus activation, a locked keyring's prompt that nobody
    /// answers), and at startup the window must come up regardless; the probe goes on in its
    /// thread and its result is dropped. A timed-out probe reports no keychain.
    pub fn probe(&self, limit: Duration) -> Probe {
        let (tx, rx) = mpsc::channel();
        let this = self.clone();
        std::thread::spawn(move || {
            let available = this.available();
            let key = if available { this.get() } else { Ok(None) };
            let _ = tx.send(Probe { available, key });
        });
        rx.recv_timeout(limit).unwrap_or_else(|_| Probe {
            available: false,
            key: Err(CommandError::new(
                ErrorCode::Io,
                "the OS keychain did not answer; unlock it and restart TL Uploader",
            )),
        })
    }

    /// Stores `key`, replacing any earlier one.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`] for an empty key; [`ErrorCode::Io`] when the keychain cannot
    /// be reached or refuses.
    pub fn set(&self, key: &str) -> Result<(), CommandError> {
        if key.trim().is_empty() {
            return Err(CommandError::invalid(
                "the API key is empty; paste your key",
            ));
        }
        self.open()?.set_password(key).map_err(describe)
    }

    /// Removes the stored key; removing a key that is not there is not an error.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Io`] when the keychain cannot be reached or refuses.
    pub fn delete(&self) -> Result<(), CommandError> {
        if self.entry.is_none() {
            return Ok(());
        }
        match self.open()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }
}

/// A message for a keychain failure. Worded from the kind only: some variants carry the
/// secret's bytes, and their `Display` is not ours to trust.
fn describe(e: keyring::Error) -> CommandError {
    let message = match &e {
        keyring::Error::NoDefaultStore | keyring::Error::PlatformFailure(_) => {
            format!(
                "the OS keychain cannot be reached ({}); on Linux a Secret Service such as GNOME Keyring must be running",
                platform_reason(&e)
            )
        }
        keyring::Error::NoStorageAccess(_) => format!(
            "the OS keychain is locked or refused access ({}); unlock it and try again",
            platform_reason(&e)
        ),
        keyring::Error::NoEntry => "no API key is stored in the OS keychain".to_owned(),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => {
            "the key stored in the OS keychain cannot be read; save it again".to_owned()
        }
        keyring::Error::TooLong(..) => "the API key is too long for the OS keychain".to_owned(),
        _ => "the OS keychain refused the request".to_owned(),
    };
    CommandError::new(ErrorCode::Io, message)
}

/// The platform's own reason, which names the D-Bus or OS failure and never a secret.
fn platform_reason(e: &keyring::Error) -> String {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            inner.to_string()
        }
        _ => "no credential store".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_keychain_stores_nothing_and_says_so() {
        let k = Keychain::disabled();
        assert!(!k.available());
        assert_eq!(k.get().unwrap(), None);
        assert_eq!(k.delete(), Ok(()));
        let e = k.set("tlk_secret").unwrap_err();
        assert_eq!(e.code, ErrorCode::Io);
        assert!(!e.message.contains("tlk_secret"));
    }

    #[test]
    fn an_empty_key_is_refused_before_the_keychain_is_asked() {
        let e = Keychain::new("tl-uploader-unit", "api-key")
            .set("  ")
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
    }

    #[test]
    fn messages_never_carry_secret_bytes() {
        let e = describe(keyring::Error::BadEncoding(b"tlk_secret".to_vec()));
        assert!(!e.message.contains("tlk_secret"), "{}", e.message);
        assert_eq!(e.code, ErrorCode::Io);
    }
}
