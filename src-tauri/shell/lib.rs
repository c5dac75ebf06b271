//! The Tauri shell of TL Uploader: the window, the plugins, and (soon) the commands that
//! connect the web UI in `ui/` to the upload engine in the `tl-upload` crate.

/// Builds the app on any Tauri runtime, so tests can pass a mock builder.
pub fn app<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.plugin(tauri_plugin_dialog::init())
}

/// Runs the desktop app.
///
/// # Panics
///
/// When the window system cannot be initialised (no display); there is nothing to show the
/// error in, so it ends the process with Tauri's message.
pub fn run() {
    #[allow(clippy::expect_used)]
    app(tauri::Builder::default())
        .run(tauri::generate_context!())
        .expect("the TL Uploader window could not be started");
}
