//! Held-out (train, test) splits over centre lists.
//!
//! All regions are in label units (pixels, or latent pixels on an extended canvas) and use
//! half-open intervals `[lo, hi)`, so a width-W region on a unit grid holds exactly W values.
//! Membership tolerates float drift of grid values ([`MEMBERSHIP_TOLERANCE`]).

use serde::{Deserialize, Serialize};

use crate::error::{check_centres, Error, Result};

/// Absolute tolerance for interval membership: `v ∈ [lo, hi)` iff `lo − tol ≤ v < hi − tol`.
pub const MEMBERSHIP_TOLERANCE: f64 = 1e-9;

/// Half-open interval `[lo, hi)`. Serialized as `{ lo = .., hi = .. }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// Inclusive lower end.
    pub lo: f64,
    /// Exclusive upper end.
    pub hi: f64,
}

impl Interval {
    /// Builds and validates (finite, lo < hi).
    pub fn new(lo: f64, hi: f64) -> Result<Self> {
        let i = Self { lo, hi };
        i.validate()?;
        Ok(i)
    }

    /// Width w starting at lo.
    pub fn from_width(lo: f64, width: f64) -> Result<Self> {
        Self::new(lo, lo + width)
    }

    /// Width w centred in `[0, extent)`: `[(extent − w)/2, (extent + w)/2)`.
    pub fn centred(extent: f64, width: f64) -> Result<Self> {
        Self::new((extent - width) / 2.0, (extent + width) / 2.0)
    }

    /// Checks finite ends with lo < hi.
    pub fn validate(&self) -> Result<()> {
        if self.lo.is_finite() && self.hi.is_finite() && self.lo < self.hi {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "interval must be finite with lo < hi, got [{}, {})",
                self.lo, self.hi
            )))
        }
    }

    /// Whether `v ∈ [lo, hi)` (with [`MEMBERSHIP_TOLERANCE`]).
    pub fn contains(&self, v: f64) -> bool {
        v >= self.lo - MEMBERSHIP_TOLERANCE && v < self.hi - MEMBERSHIP_TOLERANCE
    }
}

/// A corner of the (μx, μy) square. Top = small y (row 0), left = small x (column 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Corner {
    /// x, y near 0.
    TopLeft,
    /// x near N, y near 0.
    TopRight,
    /// x near 0, y near N.
    BottomLeft,
    /// x, y near N.
    BottomRight,
}

/// An edge of the (μx, μy) square. Top = small y, left = small x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Edge {
    /// y near 0.
    Top,
    /// y near N.
    Bottom,
    /// x near 0.
    Left,
    /// x near N.
    Right,
}

/// Which part of a held-out region a test centre falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    /// Inside a held-out rectangle.
    Square,
    /// In the vertical band only (μx held out, μy seen).
    VerticalBand,
    /// In the horizontal band only (μy held out, μx seen).
    HorizontalBand,
    /// In both bands of a cross.
    Intersection,
}

/// A held-out region of the (μx, μy) label square.
///
/// Serialized externally tagged with snake_case variant names, e.g. in TOML
/// `held_out = { rect = { x = { lo = 12.0, hi = 20.0 }, y = { lo = 12.0, hi = 20.0 } } }` or
/// `held_out = { vertical_band = { x = { lo = 14.0, hi = 18.0 } } }`; the PascalCase variant
/// names of earlier versions are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HeldOut {
    /// Rectangle `x × y` (squares: interior, corner, edge).
    #[serde(alias = "Rect")]
    Rect {
        /// μx range.
        x: Interval,
        /// μy range.
        y: Interval,
    },
    /// Vertical band (a "lesion" of μx values): every centre with μx in `x`.
    #[serde(alias = "VerticalBand")]
    VerticalBand {
        /// μx range.
        x: Interval,
    },
    /// Horizontal band: every centre with μy in `y`.
    #[serde(alias = "HorizontalBand")]
    HorizontalBand {
        /// μy range.
        y: Interval,
    },
    /// Cross: the union of a vertical band `x` and a horizontal band `y`.
    #[serde(alias = "Cross")]
    Cross {
        /// μx range of the vertical band.
        x: Interval,
        /// μy range of the horizontal band.
        y: Interval,
    },
}

impl HeldOut {
    /// W×W square centred in `[0, extent)²`.
    pub fn interior_square(extent: f64, w: f64) -> Result<Self> {
        Ok(HeldOut::Rect {
            x: Interval::centred(extent, w)?,
            y: Interval::centred(extent, w)?,
        })
    }

    /// W×W square with its lower corner at (x0, y0).
    pub fn square_at(x0: f64, y0: f64, w: f64) -> Result<Self> {
        Ok(HeldOut::Rect {
            x: Interval::from_width(x0, w)?,
            y: Interval::from_width(y0, w)?,
        })
    }

    /// W×W square in a corner of `[0, extent)²`.
    pub fn corner_square(extent: f64, w: f64, corner: Corner) -> Result<Self> {
        let low = Interval::from_width(0.0, w)?;
        let high = Interval::new(extent - w, extent)?;
        let (x, y) = match corner {
            Corner::TopLeft => (low, low),
            Corner::TopRight => (high, low),
            Corner::BottomLeft => (low, high),
            Corner::BottomRight => (high, high),
        };
        Ok(HeldOut::Rect { x, y })
    }

    /// W×W square touching one edge of `[0, extent)²`, centred along that edge.
    pub fn edge_square(extent: f64, w: f64, edge: Edge) -> Result<Self> {
        let mid = Interval::centred(extent, w)?;
        let low = Interval::from_width(0.0, w)?;
        let high = Interval::new(extent - w, extent)?;
        let (x, y) = match edge {
            Edge::Top => (mid, low),
            Edge::Bottom => (mid, high),
            Edge::Left => (low, mid),
            Edge::Right => (high, mid),
        };
        Ok(HeldOut::Rect { x, y })
    }

    /// Vertical band of width w centred in `[0, extent)` (the "lesion").
    pub fn vertical_band(extent: f64, w: f64) -> Result<Self> {
        Ok(HeldOut::VerticalBand {
            x: Interval::centred(extent, w)?,
        })
    }

    /// Horizontal band of width w centred in `[0, extent)`.
    pub fn horizontal_band(extent: f64, w: f64) -> Result<Self> {
        Ok(HeldOut::HorizontalBand {
            y: Interval::centred(extent, w)?,
        })
    }

    /// Cross of a vertical and a horizontal band, both of width w, centred in `[0, extent)`.
    pub fn cross(extent: f64, w: f64) -> Result<Self> {
        Ok(HeldOut::Cross {
            x: Interval::centred(extent, w)?,
            y: Interval::centred(extent, w)?,
        })
    }

    /// Checks every interval.
    pub fn validate(&self) -> Result<()> {
        match self {
            HeldOut::Rect { x, y } | HeldOut::Cross { x, y } => {
                x.validate()?;
                y.validate()
            }
            HeldOut::VerticalBand { x } => x.validate(),
            HeldOut::HorizontalBand { y } => y.validate(),
        }
    }

    /// The section of the region holding `c`, or `None` when `c` is not held out.
    pub fn section(&self, c: [f64; 2]) -> Option<Section> {
        match self {
            HeldOut::Rect { x, y } => {
                (x.contains(c[0]) && y.contains(c[1])).then_some(Section::Square)
            }
            HeldOut::VerticalBand { x } => x.contains(c[0]).then_some(Section::VerticalBand),
            HeldOut::HorizontalBand { y } => y.contains(c[1]).then_some(Section::HorizontalBand),
            HeldOut::Cross { x, y } => match (x.contains(c[0]), y.contains(c[1])) {
                (true, true) => Some(Section::Intersection),
                (true, false) => Some(Section::VerticalBand),
                (false, true) => Some(Section::HorizontalBand),
                (false, false) => None,
            },
        }
    }

    /// Whether `c` is held out.
    pub fn contains(&self, c: [f64; 2]) -> bool {
        self.section(c).is_some()
    }
}

/// A (train, test) split of a centre list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Centres outside the held-out region, in input order.
    pub train: Vec<[f64; 2]>,
    /// Held-out centres, in input order.
    pub test: Vec<[f64; 2]>,
    /// Section of each test centre (same order as `test`).
    pub test_sections: Vec<Section>,
}

/// Splits `centres` into train (outside `held_out`) and test (inside). Every centre lands in exactly
/// one side. Errors when a centre is not finite, the region is invalid, covers nothing
/// ([`Error::EmptyHeldOut`]) or covers everything ([`Error::EmptyTrain`]).
pub fn split(centres: &[[f64; 2]], held_out: &HeldOut) -> Result<Split> {
    check_centres(centres)?;
    held_out.validate()?;
    let mut s = Split {
        train: Vec::new(),
        test: Vec::new(),
        test_sections: Vec::new(),
    };
    for &c in centres {
        match held_out.section(c) {
            Some(sec) => {
                s.test.push(c);
                s.test_sections.push(sec);
            }
            None => s.train.push(c),
        }
    }
    if s.test.is_empty() {
        return Err(Error::EmptyHeldOut);
    }
    if s.train.is_empty() {
        return Err(Error::EmptyTrain);
    }
    Ok(s)
}
