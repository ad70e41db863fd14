//! Files in and out of the page, through `gloo-file`: the bytes of a file the user chose or
//! dropped, the text of several chosen files, and a download offered from bytes (a `Blob` behind
//! an object URL that is revoked as soon as the click has been dispatched).

use gloo_file::futures::{read_as_bytes, read_as_text};
use wasm_bindgen::JsCast;

/// The file `<input>` an event came from.
fn file_input(ev: &web_sys::Event) -> Result<web_sys::HtmlInputElement, String> {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .ok_or_else(|| "not a file input".into())
}

/// A file's name and bytes; an error names the file.
async fn name_and_bytes(file: web_sys::File) -> Result<(String, Vec<u8>), String> {
    let file = gloo_file::File::from(file);
    let bytes = read_as_bytes(&file).await.map_err(|e| format!("could not read {}: {e}", file.name()))?;
    Ok((file.name(), bytes))
}

/// The first file dropped on the page (from a drop event): its name and bytes.
pub async fn read_dropped_file(ev: &web_sys::DragEvent) -> Result<Option<(String, Vec<u8>)>, String> {
    match ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
        Some(file) => name_and_bytes(file).await.map(Some),
        None => Ok(None),
    }
}

/// The first file chosen in a file `<input>` (from its change event): its name and bytes.
pub async fn read_chosen_file(ev: &web_sys::Event) -> Result<Option<(String, Vec<u8>)>, String> {
    let input = file_input(ev)?;
    let Some(file) = input.files().and_then(|f| f.get(0)) else { return Ok(None) };
    let read = name_and_bytes(file).await?;
    // Let the same file be chosen again later.
    input.set_value("");
    Ok(Some(read))
}

/// Every file chosen in a multiple file `<input>` (from its change event): names and text.
pub async fn read_chosen_texts(ev: &web_sys::Event) -> Result<Vec<(String, String)>, String> {
    let input = file_input(ev)?;
    let Some(files) = input.files() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for file in gloo_file::FileList::from(files).iter() {
        let text = read_as_text(file).await.map_err(|e| format!("could not read {}: {e}", file.name()))?;
        out.push((file.name(), text));
    }
    input.set_value("");
    Ok(out)
}

/// Offer `bytes` to the user as a file download named `filename`.
pub fn download(filename: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("download failed: no document")?;
    let url = gloo_file::ObjectUrl::from(gloo_file::Blob::new_with_options(bytes, Some(mime)));
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("download failed: {e:?}"))?
        .dyn_into()
        .map_err(|_| "download failed: no anchor element")?;
    a.set_href(&url);
    a.set_download(filename);
    // The click starts the download synchronously; dropping `url` afterwards revokes it.
    a.click();
    Ok(())
}
