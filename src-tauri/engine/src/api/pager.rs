//! Pagers over the two paginated listings.
//!
//! A pager stops at the first empty page or at `page_info.total_page`, whichever comes
//! first, and also when a server that ignores `page` sends the same page twice, so a
//! misbehaving server cannot make it loop forever.

use super::client::{MAX_PAGE_LIMIT, MultipartUploadClient};
use super::error::ApiError;
use super::wire::{ChunkInfo, GetUploadStatusResponse, IncompleteUploadSummary, PageInfo};

/// Where a listing stands.
#[derive(Debug)]
struct Cursor {
    next_page: u64,
    page_limit: u64,
    done: bool,
}

impl Cursor {
    fn new(page_limit: u64) -> Self {
        Self {
            next_page: 1,
            page_limit: page_limit.clamp(1, MAX_PAGE_LIMIT),
            done: false,
        }
    }

    /// Records a fetched page; returns false when the page ends the listing without items.
    fn advance(&mut self, items: usize, info: Option<&PageInfo>, repeated: bool) -> bool {
        if items == 0 || repeated {
            self.done = true;
            return false;
        }
        let page = self.next_page;
        self.next_page += 1;
        if let Some(total) = info.and_then(|i| i.total_page)
            && page >= total
        {
            self.done = true;
        }
        true
    }
}

/// Pages through the account's incomplete upload sessions.
#[derive(Debug)]
pub struct IncompleteUploadsPager {
    client: MultipartUploadClient,
    cursor: Cursor,
    last_first: Option<String>,
}

impl IncompleteUploadsPager {
    pub(crate) fn new(client: MultipartUploadClient, page_limit: u64) -> Self {
        Self {
            client,
            cursor: Cursor::new(page_limit),
            last_first: None,
        }
    }

    /// The next page, or `None` after the last one.
    ///
    /// # Errors
    ///
    /// [`ApiError`] from the listing call; the pager can be asked again afterwards.
    pub async fn next_page(&mut self) -> Result<Option<Vec<IncompleteUploadSummary>>, ApiError> {
        if self.cursor.done {
            return Ok(None);
        }
        let page = self
            .client
            .list_incomplete_uploads_page(self.cursor.next_page, self.cursor.page_limit)
            .await?;
        let first = page.data.first().map(|s| s.upload_id.clone());
        let repeated = first.is_some() && first == self.last_first;
        if !self
            .cursor
            .advance(page.data.len(), page.page_info.as_ref(), repeated)
        {
            return Ok(None);
        }
        self.last_first = first;
        Ok(Some(page.data))
    }

    /// Every remaining session.
    ///
    /// # Errors
    ///
    /// [`ApiError`] from any page.
    pub async fn collect(mut self) -> Result<Vec<IncompleteUploadSummary>, ApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

/// Pages through a session's per-chunk status.
#[derive(Debug)]
pub struct StatusPager {
    client: MultipartUploadClient,
    upload_id: String,
    cursor: Cursor,
    last_first: Option<u64>,
    last: Option<GetUploadStatusResponse>,
}

impl StatusPager {
    pub(crate) fn new(client: MultipartUploadClient, upload_id: String, page_limit: u64) -> Self {
        Self {
            client,
            upload_id,
            cursor: Cursor::new(page_limit),
            last_first: None,
            last: None,
        }
    }

    /// The next page of chunks, or `None` after the last one.
    ///
    /// # Errors
    ///
    /// [`ApiError`] from the status call.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ChunkInfo>>, ApiError> {
        if self.cursor.done {
            return Ok(None);
        }
        let mut page = self
            .client
            .get_status_page(
                &self.upload_id,
                self.cursor.next_page,
                self.cursor.page_limit,
            )
            .await?;
        let chunks = std::mem::take(&mut page.uploaded_chunks);
        let first = chunks.first().map(|c| c.index);
        let repeated = first.is_some() && first == self.last_first;
        let info = page.page_info;
        self.last = Some(page);
        if !self.cursor.advance(chunks.len(), info.as_ref(), repeated) {
            return Ok(None);
        }
        self.last_first = first;
        Ok(Some(chunks))
    }

    /// The session fields of the most recent page (counts, sizes, status), without chunks.
    pub fn summary(&self) -> Option<&GetUploadStatusResponse> {
        self.last.as_ref()
    }

    /// Every page merged into one response: the newest counters and every chunk, sorted by
    /// index, once each.
    ///
    /// # Errors
    ///
    /// [`ApiError`] from any page.
    pub async fn collect(mut self) -> Result<GetUploadStatusResponse, ApiError> {
        let mut chunks = Vec::new();
        while let Some(page) = self.next_page().await? {
            chunks.extend(page);
        }
        let mut status = match self.last {
            Some(s) => s,
            // `next_page` always stores the response before deciding, so this is reached
            // only if it was never called, which `collect` rules out.
            None => {
                return Err(ApiError::Decode {
                    request: "get_status",
                    detail: "no status page was received".into(),
                });
            }
        };
        chunks.sort_by_key(|c| c.index);
        chunks.dedup_by_key(|c| c.index);
        status.uploaded_chunks = chunks;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_stops_on_empty_page_total_page_or_repeat() {
        let mut c = Cursor::new(10);
        let info = PageInfo {
            total_page: Some(2),
            ..PageInfo::default()
        };
        assert!(c.advance(10, Some(&info), false));
        assert!(!c.done);
        assert!(c.advance(3, Some(&info), false));
        assert!(c.done, "page 2 of 2 ends the listing");

        let mut c = Cursor::new(10);
        assert!(c.advance(10, None, false));
        assert!(!c.advance(0, None, false));
        assert!(c.done);

        let mut c = Cursor::new(10);
        assert!(c.advance(10, None, false));
        assert!(
            !c.advance(10, None, true),
            "a repeated page means the server ignores `page`"
        );
    }

    #[test]
    fn cursor_clamps_the_page_limit() {
        assert_eq!(Cursor::new(0).page_limit, 1);
        assert_eq!(Cursor::new(999).page_limit, 50);
    }
}
