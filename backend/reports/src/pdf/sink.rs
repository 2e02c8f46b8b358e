//! A PDF file written object by object to any `Write`, with its own cross-reference table, so
//! a document of any length needs memory for one page plus one offset per object.
//!
//! pdf-writer serialises each object (one object per [`Chunk`], so the object's offset is the
//! byte count written before it); this module orders them, numbers them and writes the
//! trailer. Object ids 1–6 are fixed (catalog, page tree, three fonts, document info) and
//! written last; pages and their content streams take ids from 7 on.

use std::io::{self, Write};

use pdf_writer::{Chunk, Content, Date, Finish, Name, Rect, Ref, TextStr};

/// A4 width and height in points.
pub(crate) const PAGE_W: f32 = 595.0;
pub(crate) const PAGE_H: f32 = 842.0;

const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const FONTS: [(&[u8], &[u8], Ref); 3] = [
    (b"F1", b"Helvetica", Ref::new(3)),
    (b"F2", b"Helvetica-Bold", Ref::new(4)),
    (b"F3", b"Courier", Ref::new(5)),
];
const INFO: Ref = Ref::new(6);
const FIRST_FREE: i32 = 7;

/// A `Write` that counts what passes through it.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// The document's metadata, fixed by the caller so that the same input gives the same bytes.
pub(crate) struct DocInfo<'a> {
    pub title: &'a str,
    pub created: time::OffsetDateTime,
    /// The file identifier (16 bytes are customary), derived from the report's input.
    pub file_id: [u8; 16],
}

/// The streaming writer.
pub(crate) struct PdfSink<W> {
    out: Counting<W>,
    /// (object number, byte offset), in the order written.
    offsets: Vec<(i32, u64)>,
    pages: Vec<Ref>,
    next: i32,
}

impl<W: Write> PdfSink<W> {
    /// Writes the header.
    pub fn new(inner: W) -> io::Result<Self> {
        let mut out = Counting { inner, written: 0 };
        out.put(b"%PDF-1.7\n%\x80\x80\x80\x80\n\n")?;
        Ok(PdfSink {
            out,
            offsets: Vec::new(),
            pages: Vec::new(),
            next: FIRST_FREE,
        })
    }

    /// The writer underneath (to drain a buffer between pages, for instance).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out.inner
    }

    fn alloc(&mut self) -> Ref {
        let r = Ref::new(self.next);
        self.next += 1;
        r
    }

    fn object(&mut self, id: Ref, build: impl FnOnce(&mut Chunk)) -> io::Result<()> {
        let mut chunk = Chunk::new();
        build(&mut chunk);
        self.offsets.push((id.get(), self.out.written));
        self.out.put(chunk.as_bytes())
    }

    /// Writes one finished page with `content` (uncompressed, so its text stays searchable by
    /// simple tools and the output is byte-stable).
    pub fn page(&mut self, content: Content) -> io::Result<()> {
        let data = content.finish();
        let content_id = self.alloc();
        let page_id = self.alloc();
        self.object(content_id, |c| {
            c.stream(content_id, &data);
        })?;
        self.object(page_id, |c| {
            let mut page = c.page(page_id);
            page.parent(PAGES).contents(content_id);
            page.finish();
        })?;
        self.pages.push(page_id);
        Ok(())
    }

    /// Writes the page tree, fonts, catalog, info, cross-reference table and trailer; returns
    /// the writer.
    pub fn finish(mut self, info: &DocInfo<'_>) -> io::Result<W> {
        let pages = std::mem::take(&mut self.pages);
        self.object(PAGES, |c| {
            let mut tree = c.pages(PAGES);
            tree.kids(pages.iter().copied())
                .count(pages.len() as i32)
                .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            let mut res = tree.resources();
            let mut fonts = res.fonts();
            for (name, _, id) in FONTS {
                fonts.pair(Name(name), id);
            }
            fonts.finish();
            res.finish();
            tree.finish();
        })?;
        for (_, base, id) in FONTS {
            self.object(id, |c| {
                c.type1_font(id)
                    .base_font(Name(base))
                    .encoding_predefined(Name(b"WinAnsiEncoding"));
            })?;
        }
        self.object(CATALOG, |c| {
            c.indirect(CATALOG)
                .start::<pdf_writer::writers::Catalog>()
                .pages(PAGES);
        })?;
        let created = pdf_date(info.created);
        self.object(INFO, |c| {
            c.indirect(INFO)
                .start::<pdf_writer::writers::DocumentInfo>()
                .title(TextStr(info.title))
                .producer(TextStr("Ancora"))
                .creator(TextStr("Ancora verification reports"))
                .creation_date(created);
        })?;
        self.write_xref(info)?;
        Ok(self.out.inner)
    }

    fn write_xref(&mut self, info: &DocInfo<'_>) -> io::Result<()> {
        let size = self.next;
        let mut by_id = vec![None; size as usize];
        for &(id, off) in &self.offsets {
            if let Some(slot) = by_id.get_mut(id as usize) {
                *slot = Some(off);
            }
        }
        let xref_at = self.out.written;
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for slot in by_id.iter().skip(1) {
            match slot {
                Some(off) => table.push_str(&format!("{off:010} 00000 n \n")),
                None => table.push_str("0000000000 65535 f \n"),
            }
        }
        let id = hex(&info.file_id);
        table.push_str(&format!(
            "trailer\n<<\n  /Size {size}\n  /Root {} 0 R\n  /Info {} 0 R\n  /ID [<{id}> <{id}>]\n>>\nstartxref\n{xref_at}\n%%EOF\n",
            CATALOG.get(),
            INFO.get()
        ));
        self.out.put(table.as_bytes())?;
        self.out.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn pdf_date(t: time::OffsetDateTime) -> Date {
    let t = t.to_offset(time::UtcOffset::UTC);
    Date::new(t.year().clamp(0, 9999) as u16)
        .month(u8::from(t.month()))
        .day(t.day())
        .hour(t.hour())
        .minute(t.minute())
        .second(t.second())
        .utc_offset_hour(0)
}
