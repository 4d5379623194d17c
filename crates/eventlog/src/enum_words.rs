//! Enums written as fixed words (in the database, in configuration, in URLs): one table per
//! enum gives each variant's word, its `Display`, and the way back from a word.

/// Implements, from one table of `Variant => "word"` rows: the named method returning each
/// variant's word, `Display` writing that word, and `from_word`, the variant whose word is
/// exactly the one given. With `FromStr: ErrorType = |unknown| error` after the table, also
/// `FromStr`, which fails with that error for a word not in the table.
macro_rules! enum_words {
    (
        $(#[$doc:meta])* $vis:vis fn $name:ident for $ty:ident {
            $($variant:ident => $word:literal),+ $(,)?
        }
    ) => {
        impl $ty {
            $(#[$doc])*
            $vis fn $name(self) -> &'static str {
                match self {
                    $($ty::$variant => $word,)+
                }
            }

            /// The variant written as `word` (exactly), if any.
            pub(crate) fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.$name())
            }
        }
    };
    (
        $(#[$doc:meta])* $vis:vis fn $name:ident for $ty:ident {
            $($variant:ident => $word:literal),+ $(,)?
        }
        FromStr: $err:ty = |$unknown:ident| $make:expr
    ) => {
        $crate::enum_words::enum_words! {
            $(#[$doc])* $vis fn $name for $ty { $($variant => $word),+ }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $err;
            fn from_str($unknown: &str) -> Result<Self, Self::Err> {
                Self::from_word($unknown).ok_or_else(|| $make)
            }
        }
    };
}
pub(crate) use enum_words;
