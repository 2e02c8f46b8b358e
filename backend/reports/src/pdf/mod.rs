//! PDF output: a streaming file writer ([`sink`]) and a line-based page layout ([`Doc`]) that
//! the event and range reports draw with.

mod sink;

use std::io::{self, Write};

use pdf_writer::{Content, Name, Str};

pub(crate) use sink::DocInfo;
use sink::{PAGE_H, PAGE_W, PdfSink};

use crate::text::{win_ansi, wrap};

const MARGIN: f32 = 50.0;
const TOP: f32 = PAGE_H - 56.0;
const BOTTOM: f32 = 60.0;

/// The three built-in fonts a report uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
    /// Courier, for hashes and ids.
    Mono,
}

impl Font {
    fn name(self) -> Name<'static> {
        Name(match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
            Font::Mono => b"F3",
        })
    }

    /// Characters per line at `size` across `width` points (Courier is 0.6 em; Helvetica's
    /// average is taken as 0.55 em so ordinary prose does not overflow).
    fn chars_for(self, size: f32, width: f32) -> usize {
        let em = if self == Font::Mono { 0.6 } else { 0.55 };
        (width / (size * em)).floor().max(1.0) as usize
    }
}

/// RGB colours used for verdicts.
pub(crate) const GREEN: (f32, f32, f32) = (0.05, 0.45, 0.2);
pub(crate) const RED: (f32, f32, f32) = (0.7, 0.1, 0.1);
pub(crate) const GREY: (f32, f32, f32) = (0.35, 0.35, 0.35);
const BLACK: (f32, f32, f32) = (0.0, 0.0, 0.0);

/// A document laid out top to bottom, one line at a time; a page is written out as soon as
/// it is full, so memory stays at one page whatever the length.
pub(crate) struct Doc<W> {
    sink: PdfSink<W>,
    page: Option<Content>,
    y: f32,
    pages: u32,
    running_head: String,
    /// Called at the top of every page after the first (a table's column headings).
    pub repeat_head: Option<Vec<(f32, String)>>,
}

impl<W: Write> Doc<W> {
    /// A new document whose pages carry `running_head` at the top.
    pub fn new(out: W, running_head: &str) -> io::Result<Self> {
        Ok(Doc {
            sink: PdfSink::new(out)?,
            page: None,
            y: TOP,
            pages: 0,
            running_head: running_head.to_owned(),
            repeat_head: None,
        })
    }

    /// The writer underneath.
    pub fn get_mut(&mut self) -> &mut W {
        self.sink.get_mut()
    }

    /// Usable width in points.
    pub fn width(&self) -> f32 {
        PAGE_W - 2.0 * MARGIN
    }

    fn content(&mut self) -> io::Result<&mut Content> {
        if self.page.is_none() {
            self.start_page()?;
        }
        self.page
            .as_mut()
            .ok_or_else(|| io::Error::other("no page open"))
    }

    fn start_page(&mut self) -> io::Result<()> {
        self.pages += 1;
        let mut c = Content::new();
        text_at(
            &mut c,
            Font::Regular,
            8.0,
            MARGIN,
            PAGE_H - 32.0,
            GREY,
            &self.running_head,
        );
        let footer = format!("page {}", self.pages);
        text_at(
            &mut c,
            Font::Regular,
            8.0,
            PAGE_W - MARGIN - 30.0,
            32.0,
            GREY,
            &footer,
        );
        c.set_stroke_rgb(0.8, 0.8, 0.8)
            .set_line_width(0.5)
            .move_to(MARGIN, PAGE_H - 38.0)
            .line_to(PAGE_W - MARGIN, PAGE_H - 38.0)
            .stroke();
        self.page = Some(c);
        self.y = TOP;
        if self.pages > 1
            && let Some(head) = self.repeat_head.clone()
        {
            self.row_raw(Font::Bold, 8.0, &head)?;
            self.rule()?;
        }
        Ok(())
    }

    /// Writes out the current page, if any.
    pub fn end_page(&mut self) -> io::Result<()> {
        if let Some(c) = self.page.take() {
            self.sink.page(c)?;
        }
        Ok(())
    }

    /// Starts a new page unless `height` points still fit on this one.
    pub fn ensure(&mut self, height: f32) -> io::Result<()> {
        if self.page.is_some() && self.y - height < BOTTOM {
            self.end_page()?;
        }
        if self.page.is_none() {
            self.start_page()?;
        }
        Ok(())
    }

    /// Vertical space.
    pub fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    /// One line of text at `indent`, in `colour`; not wrapped.
    pub fn line_in(
        &mut self,
        font: Font,
        size: f32,
        indent: f32,
        colour: (f32, f32, f32),
        text: &str,
    ) -> io::Result<()> {
        let lead = size * 1.35;
        self.ensure(lead)?;
        self.y -= lead;
        let y = self.y;
        let c = self.content()?;
        text_at(c, font, size, MARGIN + indent, y, colour, text);
        Ok(())
    }

    /// One line of black text.
    pub fn line(&mut self, font: Font, size: f32, indent: f32, text: &str) -> io::Result<()> {
        self.line_in(font, size, indent, BLACK, text)
    }

    /// A paragraph wrapped to the page width.
    pub fn para(&mut self, font: Font, size: f32, indent: f32, text: &str) -> io::Result<()> {
        let width = font.chars_for(size, self.width() - indent);
        for l in wrap(text, width) {
            self.line(font, size, indent, &l)?;
        }
        Ok(())
    }

    /// `label` in bold, then `value` wrapped beside it in `font`.
    pub fn field(&mut self, label: &str, value: &str, font: Font) -> io::Result<()> {
        const LABEL_W: f32 = 120.0;
        let size = 9.0;
        let lines = wrap(value, font.chars_for(size, self.width() - LABEL_W));
        self.ensure(size * 1.35 * lines.len() as f32)?;
        for (i, l) in lines.iter().enumerate() {
            let lead = size * 1.35;
            self.y -= lead;
            let y = self.y;
            let c = self.content()?;
            if i == 0 {
                text_at(c, Font::Bold, size, MARGIN, y, BLACK, label);
            }
            text_at(c, font, size, MARGIN + LABEL_W, y, BLACK, l);
        }
        Ok(())
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) -> io::Result<()> {
        self.ensure(40.0)?;
        self.gap(8.0);
        self.line(Font::Bold, 12.0, 0.0, text)?;
        self.gap(2.0);
        Ok(())
    }

    /// A thin horizontal rule.
    pub fn rule(&mut self) -> io::Result<()> {
        self.ensure(4.0)?;
        self.y -= 3.0;
        let y = self.y;
        let right = PAGE_W - MARGIN;
        self.content()?
            .set_stroke_rgb(0.75, 0.75, 0.75)
            .set_line_width(0.5)
            .move_to(MARGIN, y)
            .line_to(right, y)
            .stroke();
        Ok(())
    }

    /// A table row: each cell at its x offset (from the left margin), already clipped.
    pub fn row(&mut self, font: Font, size: f32, cells: &[(f32, String)]) -> io::Result<()> {
        self.ensure(size * 1.4)?;
        self.row_raw(font, size, cells)
    }

    fn row_raw(&mut self, font: Font, size: f32, cells: &[(f32, String)]) -> io::Result<()> {
        self.y -= size * 1.4;
        let y = self.y;
        let c = self.content()?;
        for (x, text) in cells {
            text_at(c, font, size, MARGIN + x, y, BLACK, text);
        }
        Ok(())
    }

    /// Writes the last page and the trailer; returns the writer.
    pub fn finish(mut self, info: &DocInfo<'_>) -> io::Result<W> {
        if self.pages == 0 {
            self.start_page()?;
        }
        self.end_page()?;
        self.sink.finish(info)
    }
}

fn text_at(
    c: &mut Content,
    font: Font,
    size: f32,
    x: f32,
    y: f32,
    (r, g, b): (f32, f32, f32),
    text: &str,
) {
    let bytes = win_ansi(text);
    c.set_fill_rgb(r, g, b);
    c.begin_text()
        .set_font(font.name(), size)
        .next_line(x, y)
        .show(Str(&bytes))
        .end_text();
}
