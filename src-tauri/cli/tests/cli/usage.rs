//! Bad input: clear messages, exit code 2 for arguments (before anything is sent), 1 for
//! what the server refuses, and never a secret in the output.

use std::process::Command;

use crate::support::*;

#[test]
fn bad_file_arguments_exit_2_before_anything_is_sent() {
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let empty = file(&dir, "empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let cases = [
        (file(&dir, "nope.mp4"), "no such file"),
        (dir.path().to_path_buf(), "is a directory"),
        (empty, "is empty (0 bytes)"),
    ];
    for (path, message) in cases {
        let run = exec(tlup_at(&server).arg("upload").arg(&path));
        assert_eq!(run.code, 2, "{path:?}: {run:?}");
        assert!(run.stderr.contains(message), "{path:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&path.display().to_string()),
            "names the file: {}",
            run.stderr
        );
        let run = exec(tlup_at(&server).args(["--json", "upload"]).arg(&path));
        assert_eq!(run.code, 2);
        let error = &run.events("error")[0];
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
        assert_eq!(error["retryable"], false);
    }
    // `resume` checks its file the same way.
    let run = exec(
        tlup_at(&server)
            .args(["resume", "0123456789abcdef01234567"])
            .arg(file(&dir, "gone.mp4")),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(server.stats().api_requests, 0, "nothing reached the server");
}

#[test]
fn an_unreadable_file_exits_2() {
    let dir = tempdir();
    let path = file(&dir, "locked.mp4");
    random_file(&path, 1000, 7);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o000);
    std::fs::set_permissions(&path, perms).unwrap();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    // Root reads mode-000 files through CAP_DAC_OVERRIDE; run tlup without that capability
    // (and DAC_READ_SEARCH) so the permission bits apply as they do for any user.
    let drop_caps = ["--bounding-set=-dac_override,-dac_read_search", "--"];
    let mut cmd = if is_root {
        let works = Command::new("setpriv").args(drop_caps).arg("true").status();
        if !works.is_ok_and(|s| s.success()) {
            eprintln!("skipped: running as root and setpriv cannot drop CAP_DAC_OVERRIDE here");
            return;
        }
        let mut cmd = Command::new("setpriv");
        cmd.args(drop_caps).arg(env!("CARGO_BIN_EXE_tlup"));
        cmd
    } else {
        Command::new(env!("CARGO_BIN_EXE_tlup"))
    };
    // Refused before any journal is opened; the home is the tests' own all the same.
    cmd.env("HOME", test_home())
        .env("XDG_DATA_HOME", test_home().join("data"));
    cmd.args([
        "--base-url",
        "http://127.0.0.1:9/v1.3",
        "--api-key",
        "k",
        "upload",
    ])
    .arg(&path);
    let run = exec(&mut cmd);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    assert!(run.stderr.contains("ermission denied"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempdir();
    let a = file(&dir, "a.mp4");
    let b = file(&dir, "b.mp4");
    random_file(&a, 10, 8);
    random_file(&b, 10, 9);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let base = ["--base-url", "http://127.0.0.1:9/v1.3", "--api-key", "k"];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["upload"], vec!["FILE"]),
        (vec!["upload", "--no-such-flag", a], vec!["--no-such-flag"]),
        (
            vec!["upload", "--workers", "0", a],
            vec!["--workers", "`auto`", "1 to 64"],
        ),
        (
            vec!["upload", "--workers", "65", a],
            vec!["--workers", "1 to 64"],
        ),
        (
            vec!["upload", "--workers", "many", a],
            vec!["--workers", "`many`", "`auto`"],
        ),
        (
            vec!["upload", "--limit-rate", "fast", a],
            vec![
                "--limit-rate",
                "`fast` is not a rate",
                "5MB/s",
                "10Mbit/s",
                "none",
            ],
        ),
        (
            vec!["resume", "u1", "--limit-rate", "5 parsecs"],
            vec!["--limit-rate", "is not a rate"],
        ),
        (
            vec!["resume", "u1", "--workers", "lots"],
            vec!["--workers", "1 to 64"],
        ),
        (vec!["upload", "--max-files", "0", a], vec!["--max-files"]),
        (
            vec!["upload", "--metadata", "novalue", a],
            vec!["KEY=VALUE"],
        ),
        (
            vec!["upload", "--file-type", "movie", a],
            vec!["video, audio or image"],
        ),
        (vec!["upload", "--retry-delay=-1", a], vec!["between 0 and"]),
        (
            vec!["upload", "--filename", "x.mp4", a, b],
            vec!["--filename"],
        ),
        (vec!["wait", "u1", "--interval", "0"], vec!["--interval"]),
        (vec!["frobnicate"], vec!["frobnicate"]),
    ];
    for (args, needles) in cases {
        let run = exec(tlup().args(base).args(&args));
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{args:?}: {needle}: {}",
                run.stderr
            );
        }
    }
    // The help says what automatic means and what a rate looks like.
    let run = exec(tlup().args(["upload", "--help"]));
    assert_eq!(run.code, 0, "{run:?}");
    for needle in [
        "--workers <auto|N>",
        "[default: auto]",
        "per API host",
        "--limit-rate <RATE>",
        "--max-files <N>",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
    // A base URL without a key cannot work.
    let run = exec(tlup().args(["--base-url", "http://127.0.0.1:9/v1.3", "upload", a]));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no API key"), "{}", run.stderr);
    let run = exec(tlup().arg("--help"));
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("upload"));
}

#[test]
fn a_wrong_key_is_named_and_never_printed() {
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    random_file(&path, 2 * MIB, 10);
    let secret = "wrong-key-7f3a9c";
    for json in [false, true] {
        let mut cmd = tlup();
        cmd.args(["--base-url", &server.base_url(), "--api-key", secret]);
        if json {
            cmd.arg("--json");
        }
        let run = exec(cmd.arg("upload").arg(&path));
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains("the API key was rejected"),
            "{}",
            run.stderr
        );
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{run:?}"
        );
        if json {
            let error = &run.events("error")[0];
            assert!(
                error["message"]
                    .as_str()
                    .unwrap()
                    .contains("the API key was rejected")
            );
            assert_eq!(error["retryable"], false);
            assert_eq!(error["exit_code"], 1);
        }
    }
    let run = exec(tlup().args([
        "--base-url",
        &server.base_url(),
        "--api-key",
        secret,
        "list",
    ]));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("the API key was rejected"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_file_over_the_server_limit_exits_1() {
    let server = sandbox().max_total_size(MIB).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "huge.mp4");
    random_file(&path, MIB + 1, 11);
    let run = exec(tlup_at(&server).arg("upload").arg(&path));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("more than the server accepts"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("huge.mp4"), "{}", run.stderr);
}
