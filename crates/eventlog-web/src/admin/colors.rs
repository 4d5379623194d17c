//! Colours of the configured types: the contrast of their labels (WCAG) and one distinct chart
//! colour per type, derived from the label colours.

use std::collections::HashMap;

use csscolorparser::Color;
use eventlog::EventTypes;
use eventlog::event_type::EventType;

/// WCAG AA: the least contrast ratio for normal-size text.
pub const MIN_CONTRAST: f64 = 4.5;

/// A label with a text colour but no background colour is drawn on this background (in light
/// and dark mode alike), so its contrast does not depend on the page theme.
pub const LABEL_BACKGROUND: &str = "#ffffff";

/// Chart colours of two types closer than this (Euclidean distance in OKLab, where 0.02 is
/// about a just-noticeable difference) are adjusted apart.
pub const MIN_DISTANCE: f32 = 0.12;

/// Fill of a type with no colours of its own, by severity rank (a colour-blind-safe palette).
const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#9c755f",
];

/// Fill of a type that is not configured (stored by an older configuration).
pub const FALLBACK_FILL: &str = PALETTE[PALETTE.len() - 1];

fn parse(value: &str) -> Option<Color> {
    csscolorparser::parse(value).ok()
}

/// Relative luminance (WCAG 2), of the colour over white when it is translucent.
fn luminance(c: &Color) -> f64 {
    let a = f64::from(c.a.clamp(0.0, 1.0));
    let channel = |v: f32| {
        let v = f64::from(v.clamp(0.0, 1.0)) * a + (1.0 - a);
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)
}

/// The WCAG contrast ratio of two CSS colours (1 to 21), or `None` when one is not a colour.
pub fn contrast(fg: &str, bg: &str) -> Option<f64> {
    let (a, b) = (luminance(&parse(fg)?), luminance(&parse(bg)?));
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    Some((hi + 0.05) / (lo + 0.05))
}

/// The contrast of a type's label: its text colour on its background colour (or on
/// [`LABEL_BACKGROUND`]). `None` for a type without a text colour: it is drawn in the page's
/// own text colour, which has enough contrast in both themes.
pub fn label_contrast(t: &EventType) -> Option<f64> {
    let fg = t.color.as_deref()?;
    contrast(fg, t.bgcolor.as_deref().unwrap_or(LABEL_BACKGROUND))
}

/// One warning per configured type whose label fails WCAG AA contrast, for the log at start.
pub fn contrast_warnings(types: &EventTypes) -> Vec<String> {
    types
        .iter()
        .filter_map(|t| {
            let ratio = label_contrast(t)?;
            (ratio < MIN_CONTRAST).then(|| {
                format!(
                    "the label of event type \"{}\" ({} on {}) has a contrast of {ratio:.2}:1, \
                     below the {MIN_CONTRAST}:1 that WCAG AA asks for: some people cannot read it",
                    t.name,
                    t.color.as_deref().unwrap_or_default(),
                    t.bgcolor.as_deref().unwrap_or(LABEL_BACKGROUND),
                )
            })
        })
        .collect()
}

/// Distance of two colours in OKLab (perceptual: equal distances look about equally different).
pub fn distance(a: &Color, b: &Color) -> f32 {
    let (a, b) = (a.to_oklaba(), b.to_oklaba());
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The colour of a type as its label suggests: its background, else its text colour, else the
/// palette colour of its severity rank.
fn base_color(t: &EventType, rank: usize) -> Color {
    [t.bgcolor.as_deref(), t.color.as_deref()]
        .into_iter()
        .flatten()
        .find_map(parse)
        .filter(|c| c.a > 0.0)
        // A white or black label colour says little about the type: use the palette.
        .filter(|c| {
            let [_, chroma, _, _] = c.to_oklcha();
            chroma > 0.03
        })
        .or_else(|| parse(PALETTE[rank % PALETTE.len()]))
        .unwrap_or_default()
}

/// Variants of `c` to try when it is too close to a colour already taken: lighter and darker
/// steps first (the type keeps its hue), then hue turns.
fn variants(c: &Color) -> impl Iterator<Item = Color> {
    let [l, ch, h, _] = c.to_oklcha();
    let ch = ch.max(0.08);
    let lightness = (1..=3).flat_map(move |k| {
        let d = 0.12 * k as f32;
        [(l + d), (l - d)]
            .into_iter()
            .filter(|l| (0.3..=0.9).contains(l))
            .map(move |l| (l, ch, h))
    });
    let hue = (1..=6).flat_map(move |k| {
        let d = 0.45 * k as f32;
        [(l, ch, h + d), (l, ch, h - d)]
    });
    lightness
        .chain(hue)
        .map(|(l, c, h)| Color::from_oklcha(l, c, h, 1.0).clamp())
}

/// One chart colour per configured type (hex), distinct from each other: the most severe type
/// keeps the colour its label suggests; a less severe one whose colour is within
/// [`MIN_DISTANCE`] of one already taken gets the nearest variant that is not.
pub fn chart_colors(types: &EventTypes) -> HashMap<String, String> {
    let all: Vec<&EventType> = types.iter().collect();
    let mut taken: Vec<Color> = Vec::new();
    let mut out = HashMap::new();
    for (rank, t) in all.iter().enumerate().rev() {
        let base = base_color(t, rank);
        let far = |c: &Color| taken.iter().all(|o| distance(c, o) >= MIN_DISTANCE);
        let chosen = if far(&base) {
            base
        } else {
            variants(&base).find(|c| far(c)).unwrap_or(base)
        };
        out.insert(t.name.clone(), chosen.to_css_hex().to_string());
        taken.push(chosen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_the_wcag_examples() {
        assert!((contrast("#000", "#fff").unwrap() - 21.0).abs() < 0.01);
        assert!((contrast("red", "white").unwrap() - 4.0).abs() < 0.01);
        assert!((contrast("#777", "#fff").unwrap() - 4.48).abs() < 0.01);
        assert_eq!(contrast("notacolor", "#fff"), None);
    }

    #[test]
    fn default_labels_meet_wcag_aa() {
        let types = EventTypes::default();
        for t in types.iter() {
            if let Some(ratio) = label_contrast(t) {
                assert!(ratio >= MIN_CONTRAST, "{}: {ratio:.2}", t.name);
            }
        }
        // Error and critical have colours, so both were checked.
        assert!(label_contrast(types.get("error").unwrap()).is_some());
        assert!(label_contrast(types.get("critical").unwrap()).is_some());
        assert_eq!(contrast_warnings(&types), Vec::<String>::new());
    }

    #[test]
    fn a_failing_configured_pair_is_warned_about() {
        let types = EventTypes::defaults_with(vec![
            EventType::new("notice", "Notice").with_colors(Some("yellow"), Some("white")),
            EventType::new("fine", "Fine").with_colors(Some("#fff"), Some("#145a32")),
        ])
        .unwrap();
        let warnings = contrast_warnings(&types);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("\"notice\""), "{}", warnings[0]);
        assert!(warnings[0].contains("1.07:1"), "{}", warnings[0]);
    }

    fn assert_distinct(types: &EventTypes) -> HashMap<String, String> {
        let colors = chart_colors(types);
        let names: Vec<&str> = types.names().collect();
        assert_eq!(colors.len(), names.len());
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                let d = distance(&parse(&colors[*a]).unwrap(), &parse(&colors[*b]).unwrap());
                assert!(
                    d >= MIN_DISTANCE,
                    "{a} {} and {b} {} are {d:.3} apart",
                    colors[*a],
                    colors[*b]
                );
            }
        }
        colors
    }

    #[test]
    fn default_chart_colours_are_distinct() {
        let types = EventTypes::default();
        let colors = assert_distinct(&types);
        // Error and critical labels are both red: critical (more severe) keeps the label's
        // red, error is moved off it but stays reddish (its hue is kept).
        let critical = types.get("critical").unwrap().bgcolor.clone().unwrap();
        assert_eq!(
            colors["critical"],
            parse(&critical).unwrap().to_css_hex().to_string()
        );
        assert_ne!(colors["error"], colors["critical"]);
        let [_, _, hue, _] = parse(&colors["error"]).unwrap().to_oklcha();
        let [_, _, red, _] = parse(&critical).unwrap().to_oklcha();
        assert!(
            (hue - red).abs() < 0.2,
            "error keeps a red hue: {}",
            colors["error"]
        );
    }

    #[test]
    fn many_colliding_types_are_spread() {
        let types = EventTypes::new(
            (0..6)
                .map(|i| {
                    EventType::new(format!("t{i}"), format!("T{i}")).with_colors(None, Some("red"))
                })
                .collect(),
        )
        .unwrap();
        assert_distinct(&types);
    }
}
