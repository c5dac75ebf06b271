//! `tlup resume` and `tlup forget` around a killed upload: one uploader per session, files
//! that changed or moved, sessions that expired or that the journal does not know.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::*;

/// `tlup --base-url … --api-key … --journal JOURNAL`.
fn tlup_with(server: &tl_sandbox::SandboxHandle, journal: &Path) -> std::process::Command {
    let mut cmd = tlup_at(server);
    cmd.arg("--journal").arg(journal);
    cmd
}

/// The sessions `tlup --json resume` lists.
fn listed(server: &tl_sandbox::SandboxHandle, journal: &Path) -> Vec<Value> {
    let run = exec(tlup_with(server, journal).args(["--json", "resume"]));
    assert_eq!(run.code, 0, "{run:?}");
    run.json().as_array().unwrap().clone()
}

/// `tlup resume` for people: the table row and the hint line of session `id`.
fn listed_for_people(
    server: &tl_sandbox::SandboxHandle,
    journal: &Path,
    id: &str,
) -> (String, String) {
    let run = exec(tlup_with(server, journal).arg("resume"));
    assert_eq!(run.code, 0, "{run:?}");
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")));
    let hint = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{id}: ")));
    match (row, hint) {
        (Some(row), Some(hint)) => (row.to_owned(), hint.to_owned()),
        _ => panic!("{id} is not listed: {}", run.stdout),
    }
}

/// Flips the bits of the byte at `at`, in place.
fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0xff;
    let mut f = File::options().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&bytes[at as usize..=at as usize]).unwrap();
}

fn set_mtime(path: &Path, t: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn two_resumes_of_one_session_never_run_at_once() {
    // 1 MiB/s per connection: the first resume is still running while the others try.
    let server = sandbox().bandwidth(Some(MIB)).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    let sha = random_file(&path, 24 * MIB, 21);
    let journal = file(&dir, "journal.sqlite3");
    let id = upload_and_kill(&server, &journal, &path, 3 * MIB);

    let mut first = spawn(tlup_with(&server, &journal).args(["--json", "resume", &id]));
    let _dog = Watchdog::new(first.id(), Duration::from_secs(60));
    let first_err = drain(first.stderr.take().unwrap());
    let mut lines = stdout_lines(&mut first);
    let seen = read_until(&mut lines, |line| {
        let v: Value = serde_json::from_str(line).unwrap();
        v["event"] == "progress" && v["status"] == "uploading"
    });
    assert!(
        seen.last().is_some_and(|l| l.contains("uploading")),
        "the first resume is uploading: {seen:?}"
    );
    let rest = std::thread::spawn(move || lines.count());

    let second = exec(tlup_with(&server, &journal).args(["resume", &id]));
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        second
            .stderr
            .contains(&format!("session {id} is being uploaded by another tlup")),
        "{}",
        second.stderr
    );
    let second = exec(tlup_with(&server, &journal).args(["--json", "resume", &id]));
    let error = &second.events("error")[0];
    assert!(
        error["message"].as_str().unwrap().contains("another tlup"),
        "{error}"
    );
    assert_eq!(error["upload_id"], id.as_str());
    let forget = exec(tlup_with(&server, &journal).args(["forget", &id]));
    assert_eq!(forget.code, 1, "{forget:?}");
    assert!(forget.stderr.contains("another tlup"), "{}", forget.stderr);

    // A killed uploader leaves no lock behind.
    first.kill().unwrap();
    first.wait().unwrap();
    rest.join().unwrap();
    first_err.join().unwrap();
    only_session(&journal);
    server.set_bandwidth(None);
    let third = exec(tlup_with(&server, &journal).args(["--json", "resume", &id]));
    assert_eq!(third.code, 0, "{third:?}");
    let result = &third.events("result")[0];
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha
    );
}

#[test]
fn a_changed_file_is_refused_and_the_journal_left_as_it_was() {
    let server = sandbox().bandwidth(Some(MIB)).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "edited.mp4");
    let size = 8 * MIB + 123;
    let sha = random_file(&path, size, 22);
    let journal = file(&dir, "journal.sqlite3");
    let id = upload_and_kill(&server, &journal, &path, 2 * MIB);
    let rows = journal_rows(&journal);
    let original = std::fs::read(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let puts = server.stats().puts_received;

    // The byte in the middle and the last byte are in the fingerprint's samples, so it
    // catches them with the modification time put back; the byte at 70 000 is in none, so
    // only the modification time can catch it, and is left changed.
    for (at, restore_mtime, what) in [
        (size / 2, true, "middle byte"),
        (size - 1, true, "last byte"),
        (70_000, false, "modification time"),
    ] {
        flip(&path, at);
        if restore_mtime {
            set_mtime(&path, mtime);
        } else if std::fs::metadata(&path).unwrap().modified().unwrap() == mtime {
            set_mtime(&path, mtime + Duration::from_secs(1));
        }

        let run = exec(tlup_with(&server, &journal).args(["resume", &id]));
        assert_eq!(run.code, 1, "{what}: {run:?}");
        for needle in [
            format!("cannot resume session {id}"),
            "changed since the upload began".to_owned(),
            format!("upload {}", path.display()),
            format!("forget {id}"),
        ] {
            assert!(
                run.stderr.contains(&needle),
                "{what}: {needle}: {}",
                run.stderr
            );
        }
        let run = exec(tlup_with(&server, &journal).args(["--json", "resume", &id]));
        assert_eq!(run.code, 1, "{what}: {run:?}");
        let error = &run.events("error")[0];
        assert!(
            error["message"].as_str().unwrap().contains("changed"),
            "{what}: {error}"
        );

        let sessions = listed(&server, &journal);
        assert_eq!(sessions[0]["state"], "file_changed", "{what}");
        let (row, hint) = listed_for_people(&server, &journal, &id);
        assert!(row.contains("file changed"), "{what}: {row}");
        assert!(hint.contains("cannot be resumed"), "{what}: {hint}");
        assert!(hint.contains("start over with `tlup"), "{what}: {hint}");

        assert_eq!(
            journal_rows(&journal),
            rows,
            "{what}: the journal is untouched"
        );
        std::fs::write(&path, &original).unwrap();
        set_mtime(&path, mtime);
    }
    assert_eq!(server.stats().puts_received, puts, "nothing was sent");

    // Put back as it was, the file resumes.
    assert_eq!(listed(&server, &journal)[0]["state"], "resumable");
    server.set_bandwidth(None);
    let run = exec(tlup_with(&server, &journal).args(["--json", "resume", &id]));
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha
    );
}

#[test]
fn a_moved_file_is_listed_missing_and_resumed_with_its_new_path() {
    let server = sandbox().bandwidth(Some(MIB)).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "before.mp4");
    let sha = random_file(&path, 6 * MIB + 5, 23);
    let journal = file(&dir, "journal.sqlite3");
    let id = upload_and_kill(&server, &journal, &path, 2 * MIB);
    let elsewhere = tempdir();
    let moved = file(&elsewhere, "after.mp4");
    std::fs::rename(&path, &moved).unwrap();

    let sessions = listed(&server, &journal);
    assert_eq!(sessions[0]["state"], "file_missing", "{sessions:?}");
    assert_eq!(sessions[0]["file_path"], path.display().to_string());
    let (row, hint) = listed_for_people(&server, &journal, &id);
    assert!(row.contains("file missing"), "{row}");
    assert!(row.contains(&path.display().to_string()), "{row}");
    assert!(hint.ends_with(&format!("resume {id} NEW_PATH`")), "{hint}");

    let run = exec(tlup_with(&server, &journal).args(["resume", &id]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is no longer at"), "{}", run.stderr);
    assert!(run.stderr.contains("NEW_PATH"), "{}", run.stderr);

    server.set_bandwidth(None);
    let run = exec(
        tlup_with(&server, &journal)
            .args(["--json", "resume", &id])
            .arg(&moved),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha
    );
    let j = tl_upload::Journal::open(&journal).unwrap();
    let session = j.session(&id).unwrap().unwrap();
    assert_eq!(session.file_path, moved);
    assert_eq!(session.state, tl_upload::SessionState::Completed);
}

#[test]
fn an_expired_session_is_listed_as_expired_and_not_resumed() {
    let server = sandbox()
        .session_ttl(Duration::from_secs(2))
        .bandwidth(Some(MIB))
        .start()
        .unwrap();
    let dir = tempdir();
    let path = file(&dir, "late.mp4");
    random_file(&path, 16 * MIB, 24);
    let journal = file(&dir, "journal.sqlite3");
    let id = upload_and_kill(&server, &journal, &path, MIB);
    let expires_at = tl_upload::Journal::open(&journal)
        .unwrap()
        .session(&id)
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    wait_until("the session to expire", Duration::from_secs(10), || {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        now.as_secs() as i64 > expires_at
    });

    let sessions = listed(&server, &journal);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["state"], "expired");
    let hint = sessions[0]["hint"].as_str().unwrap();
    assert!(hint.contains("start over with `tlup"), "{hint}");
    let (row, _) = listed_for_people(&server, &journal, &id);
    assert!(row.contains("expired"), "{row}");

    let run = exec(tlup_with(&server, &journal).args(["resume", &id]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("has expired"), "{}", run.stderr);
    assert!(run.stderr.contains("start over"), "{}", run.stderr);

    let run = exec(tlup_with(&server, &journal).args(["forget", &id]));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("already expired"), "{}", run.stdout);
    assert!(listed(&server, &journal).is_empty());
}

#[test]
fn a_forgotten_session_is_no_longer_offered() {
    let server = sandbox().bandwidth(Some(MIB)).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "unwanted.mp4");
    random_file(&path, 8 * MIB, 25);
    let journal = file(&dir, "journal.sqlite3");
    let id = upload_and_kill(&server, &journal, &path, MIB);
    assert_eq!(listed(&server, &journal).len(), 1);

    // `forget` only needs the journal: no key, no server.
    let run = exec(tlup().arg("--journal").arg(&journal).args(["forget", &id]));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("forgot session {id}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("until it expires (in "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("no way to abort"), "{}", run.stdout);
    assert!(listed(&server, &journal).is_empty());
    let state = tl_upload::Journal::open(&journal)
        .unwrap()
        .session(&id)
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state, tl_upload::SessionState::Abandoned);
    // The server still has it, as `tlup list` shows.
    let run = exec(tlup_at(&server).args(["--json", "list"]));
    assert!(run.stdout.contains(&id), "{}", run.stdout);

    let run = exec(tlup_with(&server, &journal).args(["--json", "forget", &id]));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["state"], "abandoned");
    assert!(run.stderr.contains("already forgotten"), "{}", run.stderr);
    let run = exec(tlup_with(&server, &journal).args(["forget", "0123456789abcdef01234567"]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("no session"), "{}", run.stderr);
}

#[test]
fn a_session_the_journal_does_not_know_needs_its_file() {
    let server = sandbox().bandwidth(Some(MIB)).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "elsewhere.mp4");
    let sha = random_file(&path, 6 * MIB, 26);
    let id = upload_and_kill(&server, &file(&dir, "other.sqlite3"), &path, MIB);
    // A journal that never saw the session: another computer's, or a fresh one.
    let journal = file(&dir, "journal.sqlite3");

    let sessions = listed(&server, &journal);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["state"], "needs_file");
    assert_eq!(sessions[0]["in_journal"], false);
    let (row, hint) = listed_for_people(&server, &journal, &id);
    assert!(row.contains("needs file"), "{row}");
    assert!(hint.ends_with(&format!("resume {id} FILE`")), "{hint}");

    let run = exec(tlup_with(&server, &journal).args(["resume", &id]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("does not know its file"),
        "{}",
        run.stderr
    );
    let run = exec(tlup_with(&server, &journal).args(["resume", "0123456789abcdef01234567"]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("there is no session"), "{}", run.stderr);

    server.set_bandwidth(None);
    let run = exec(
        tlup_with(&server, &journal)
            .args(["--json", "resume", &id])
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha
    );
    // From then on the journal knows it.
    let j = tl_upload::Journal::open(&journal).unwrap();
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        tl_upload::SessionState::Completed
    );
}
