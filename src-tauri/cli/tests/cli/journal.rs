//! Where uploads are journalled (the default place, `TLUP_JOURNAL`, `--journal`), that the
//! embedded sandbox journals nothing, and that a file tlup cannot use as a journal is refused
//! and left exactly as it was.

use std::path::Path;

use tl_upload::{Journal, SessionState};

use crate::support::*;

/// The sessions of the journal at `path`, with their states and reported chunk counts.
fn journalled(path: &Path) -> Vec<(String, SessionState, usize)> {
    let journal = Journal::open(path).unwrap();
    journal
        .sessions()
        .unwrap()
        .into_iter()
        .map(|s| {
            let reported = journal
                .chunks(&s.upload_id)
                .unwrap()
                .iter()
                .filter(|c| c.reported)
                .count();
            (s.upload_id, s.state, reported)
        })
        .collect()
}

#[test]
fn uploads_are_journalled_in_the_data_directory_unless_told_otherwise() {
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    random_file(&path, 3 * MIB + 1, 31);
    let home = tempdir();
    let with_home = |cmd: &mut std::process::Command| {
        cmd.env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"));
    };

    let mut cmd = tlup_at(&server);
    with_home(&mut cmd);
    let run = exec(cmd.args(["--json", "upload"]).arg(&path));
    assert_eq!(run.code, 0, "{run:?}");
    let id = run.events("result")[0]["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let default = home.path().join("data/tl-uploader/journal.sqlite3");
    assert_eq!(
        journalled(&default),
        vec![(id, SessionState::Completed, 4)],
        "every chunk reported"
    );

    // TLUP_JOURNAL moves it; --journal (before or after the command) wins over that.
    let from_env = file(&dir, "env.sqlite3");
    let mut cmd = tlup_at(&server);
    with_home(&mut cmd);
    let run = exec(cmd.env("TLUP_JOURNAL", &from_env).arg("upload").arg(&path));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(journalled(&from_env).len(), 1);
    for (i, after) in [false, true].into_iter().enumerate() {
        let flag = file(&dir, &format!("flag-{i}.sqlite3"));
        let mut cmd = tlup_at(&server);
        with_home(&mut cmd);
        cmd.env("TLUP_JOURNAL", &from_env);
        if after {
            cmd.arg("upload").arg("--journal").arg(&flag);
        } else {
            cmd.arg("--journal").arg(&flag).arg("upload");
        }
        let run = exec(cmd.arg(&path));
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(journalled(&flag).len(), 1, "--journal after: {after}");
    }
    assert_eq!(journalled(&from_env).len(), 1);
    assert_eq!(journalled(&default).len(), 1);
}

#[test]
fn the_embedded_sandbox_journals_nothing() {
    let dir = tempdir();
    let path = file(&dir, "local.mp4");
    random_file(&path, 100 * KIB, 32);
    let home = tempdir();
    let run = exec(
        tlup()
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .arg("upload")
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !home.path().join("data/tl-uploader").exists(),
        "no journal for sessions that end with tlup"
    );
    // Nothing to resume there either: a clear usage error, not an empty sandbox's list.
    let run = exec(tlup().arg("resume"));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("nothing to resume there"),
        "{}",
        run.stderr
    );
}

/// Runs every journal-using command against `journal` and checks that each fails with
/// `message`, sends nothing, and leaves the file byte for byte as it was.
fn refused_and_untouched(journal: &Path, message: &str) {
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    random_file(&path, MIB, 33);
    let before = std::fs::read(journal).unwrap();
    let id = "0123456789abcdef01234567";
    let commands: [Vec<&str>; 4] = [
        vec!["upload", path.to_str().unwrap()],
        vec!["resume"],
        vec!["resume", id],
        vec!["forget", id],
    ];
    for args in commands {
        let run = exec(tlup_at(&server).arg("--journal").arg(journal).args(&args));
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        for needle in [
            format!("the upload journal at {}", journal.display()),
            message.to_owned(),
            "--journal PATH".to_owned(),
        ] {
            assert!(
                run.stderr.contains(&needle),
                "{args:?}: {needle}: {}",
                run.stderr
            );
        }
        assert_eq!(
            std::fs::read(journal).unwrap(),
            before,
            "{args:?}: untouched"
        );
    }
    let run = exec(
        tlup_at(&server)
            .args(["--json", "--journal"])
            .arg(journal)
            .arg("upload")
            .arg(&path),
    );
    let error = &run.events("error")[0];
    assert!(
        error["message"].as_str().unwrap().contains(message),
        "{error}"
    );
    assert_eq!(error["exit_code"], 1);
    assert_eq!(server.stats().api_requests, 0, "nothing was sent");
    let parent = journal.parent().unwrap();
    let names: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "no files beside it: {names:?}");
}

#[test]
fn a_file_that_is_not_a_journal_is_refused_and_left_untouched() {
    let dir = tempdir();
    let notes = file(&dir, "notes.txt");
    std::fs::write(&notes, "these are my notes, not a database\n".repeat(200)).unwrap();
    refused_and_untouched(&notes, "file is not a database");
}

#[test]
fn a_journal_from_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempdir();
    let newer = file(&dir, "newer.sqlite3");
    {
        let db = rusqlite::Connection::open(&newer).unwrap();
        // A newer tlup journals in WAL mode too, with tables this version has never seen.
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        db.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    refused_and_untouched(&newer, "written by a newer TL Uploader");
}
