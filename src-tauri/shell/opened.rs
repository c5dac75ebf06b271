//! Files the app is asked to open from outside the window: its own command line, a second
//! launch (whose arguments the single-instance plugin hands over), and on macOS the
//! Finder's Open With. They are queued like dropped files; the ones that cannot be queued
//! wait in the state until the UI takes them, so none is lost while the page loads.

use std::path::Path;

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::ipc::FILES_REFUSED_EVENT;
use crate::sessions;
use crate::state::AppState;

/// The files a command line names: the arguments after the program's name, made absolute
/// against `cwd`. A `file://` URI (what a desktop's Open With may pass) becomes its path.
/// Options (`-x`, `--x`) are skipped, since toolkits and launchers add their own; after
/// `--` every argument is a file.
pub fn file_args<I: IntoIterator<Item = String>>(argv: I, cwd: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut options_end = false;
    for arg in argv.into_iter().skip(1) {
        if !options_end && arg == "--" {
            options_end = true;
            continue;
        }
        if arg.is_empty() || (!options_end && arg.starts_with('-')) {
            continue;
        }
        let path = match url::Url::parse(&arg) {
            Ok(uri) if uri.scheme() == "file" => match uri.to_file_path() {
                Ok(path) => path,
                Err(()) => {
                    log::warn!("ignored {arg}: not a local file");
                    continue;
                }
            },
            _ => cwd.join(&arg),
        };
        files.push(path.to_string_lossy().into_owned());
    }
    files
}

/// Brings the window forward and queues `paths`; refused files are kept for the UI and
/// announced with [`FILES_REFUSED_EVENT`].
pub fn open<R: Runtime>(app: &AppHandle<R>, paths: Vec<String>) {
    show_window(app);
    if paths.is_empty() {
        return;
    }
    log::info!("asked to open {} file(s)", paths.len());
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(state) = app.try_state::<AppState>() else {
            return;
        };
        let results = sessions::add_paths(&state, paths).await;
        state.keep_refused(&results);
        if results.iter().any(|r| r.error.is_some()) {
            let _ = app.emit(FILES_REFUSED_EVENT, ());
        }
    });
}

/// Shows, restores and focuses the main window: what a second launch should do.
fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        // Each step may fail on a window system that does not allow it; the others still
        // help, and nothing is lost either way.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn paths_are_made_absolute_against_the_launch_directory() {
        let cwd = Path::new("/home/me/videos");
        let files = file_args(
            args(&["tl-uploader", "a.mp4", "/srv/b.mov", "../c.mkv"]),
            cwd,
        );
        assert_eq!(
            files,
            [
                "/home/me/videos/a.mp4",
                "/srv/b.mov",
                "/home/me/videos/../c.mkv"
            ]
        );
    }

    #[test]
    fn the_program_name_and_options_are_not_files() {
        let files = file_args(
            args(&["/usr/bin/tl-uploader", "--sync", "-v", "", "clip.mp4"]),
            Path::new("/x"),
        );
        assert_eq!(files, ["/x/clip.mp4"]);
        assert!(file_args(args(&["tl-uploader"]), Path::new("/x")).is_empty());
        assert!(file_args(Vec::<String>::new(), Path::new("/x")).is_empty());
    }

    #[test]
    fn after_a_double_dash_a_leading_dash_is_part_of_a_name() {
        let files = file_args(args(&["tl", "--", "-odd.mp4", "--"]), Path::new("/x"));
        assert_eq!(files, ["/x/-odd.mp4", "/x/--"]);
    }

    #[test]
    fn file_uris_become_decoded_paths_and_remote_ones_are_skipped() {
        let files = file_args(
            args(&[
                "tl",
                "file:///media/My%20Clips/caf%C3%A9.mp4",
                "file://remote-host/share/a.mp4",
            ]),
            Path::new("/x"),
        );
        assert_eq!(files, ["/media/My Clips/café.mp4"]);
    }
}
