//! Typed views of the in-memory layouts: the [`Wire`] trait every field type implements,
//! the [`LayoutError`] a parse can fail with, and the macros that turn the tables in
//! `layouts.rs` and `consts.rs` into Rust structs, enums and flag sets.
//!
//! In the manner of smoltcp's `Repr`: `parse(&[u8])` checks the length once and decodes every
//! field (an enum field holding an unknown value is an error, never a panic); `emit(&mut [u8])`
//! writes every field. Reserved fields are ordinary fields, so a parse/emit round trip keeps
//! every byte the layout describes.

use std::net::Ipv4Addr;

/// Why a byte slice is not a valid instance of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The slice is shorter than the layout.
    #[error("{layout}: {got} bytes, the layout needs {need}")]
    Truncated {
        /// Layout name.
        layout: &'static str,
        /// Bytes the layout needs.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// A field holds a value its type does not define (an unknown enum code).
    #[error("{layout}.{field}: {value:#x} is not a valid {ty}")]
    BadValue {
        /// Layout name.
        layout: &'static str,
        /// Field name.
        field: &'static str,
        /// The raw value found.
        value: u64,
        /// The field's type.
        ty: &'static str,
    },
}

/// A value with a fixed little-endian encoding of `BYTES` bytes.
pub trait Wire: Sized + Copy {
    /// Encoded size in bytes.
    const BYTES: usize;
    /// Decodes `b` (exactly `BYTES` long). `Err` carries the raw value and the type name
    /// when the bytes are not a value of this type.
    fn read(b: &[u8]) -> Result<Self, (u64, &'static str)>;
    /// Encodes into `b` (exactly `BYTES` long).
    fn write(&self, b: &mut [u8]);
    /// The value a default-constructed structure holds (zero, or an enum's first code).
    fn init() -> Self;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            fn read(b: &[u8]) -> Result<Self, (u64, &'static str)> {
                let mut v = [0u8; std::mem::size_of::<$t>()];
                v.copy_from_slice(b);
                Ok(<$t>::from_le_bytes(v))
            }
            fn write(&self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_le_bytes());
            }
            fn init() -> Self {
                0
            }
        }
    )*};
}
wire_int!(u8, u16, u32, u64);

impl<T: Wire, const N: usize> Wire for [T; N] {
    const BYTES: usize = T::BYTES * N;
    fn read(b: &[u8]) -> Result<Self, (u64, &'static str)> {
        let mut out = [T::init(); N];
        for (o, c) in out.iter_mut().zip(b.chunks_exact(T::BYTES)) {
            *o = T::read(c)?;
        }
        Ok(out)
    }
    fn write(&self, b: &mut [u8]) {
        for (v, c) in self.iter().zip(b.chunks_exact_mut(T::BYTES)) {
            v.write(c);
        }
    }
    fn init() -> Self {
        [T::init(); N]
    }
}

/// IPv4 addresses are stored as their numeric value (10.77.0.2 is the u32 0x0A4D0002).
impl Wire for Ipv4Addr {
    const BYTES: usize = 4;
    fn read(b: &[u8]) -> Result<Self, (u64, &'static str)> {
        u32::read(b).map(Ipv4Addr::from)
    }
    fn write(&self, b: &mut [u8]) {
        u32::from(*self).write(b)
    }
    fn init() -> Self {
        Ipv4Addr::UNSPECIFIED
    }
}

/// Decodes field `field` of layout `layout` at byte `off` (used by the generated `parse`).
#[doc(hidden)]
pub fn field<T: Wire>(
    b: &[u8],
    off: usize,
    layout: &'static str,
    field: &'static str,
) -> Result<T, LayoutError> {
    T::read(&b[off..off + T::BYTES]).map_err(|(value, ty)| LayoutError::BadValue {
        layout,
        field,
        value,
        ty,
    })
}

/// Generates, for each layout: a module `$lmod` with `SIZE` and one `(offset, bytes)`
/// constant per field (for the Verilog and docs renderers), a struct `$ty` with one typed
/// public field per layout field and `parse`/`emit`/`to_bytes`, and the entry of `LAYOUTS`.
macro_rules! layouts {
    ($( $lmod:ident ($ty:ident) size $size:expr, $ldoc:expr => {
        $( $fname:ident $field:ident @ $off:literal : $fty:ty, $fdoc:expr; )*
    } )*) => {
        $(
            #[doc = $ldoc]
            pub mod $lmod {
                #[allow(unused_imports)]
                use super::*;
                #[doc = "Size of the structure in bytes."]
                pub const SIZE: usize = $size;
                $(
                    #[doc = $fdoc]
                    pub const $fname: (usize, usize) = ($off, <$fty as $crate::wire::Wire>::BYTES);
                )*
            }

            #[doc = $ldoc]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $ty {
                $( #[doc = $fdoc] pub $field: $fty, )*
            }

            impl Default for $ty {
                fn default() -> Self {
                    Self { $( $field: <$fty as $crate::wire::Wire>::init(), )* }
                }
            }

            impl $ty {
                /// Size of the structure in bytes.
                pub const SIZE: usize = $size;

                /// Decodes the structure from the first `SIZE` bytes of `b`.
                pub fn parse(b: &[u8]) -> Result<Self, $crate::wire::LayoutError> {
                    if b.len() < $size {
                        return Err($crate::wire::LayoutError::Truncated {
                            layout: stringify!($lmod),
                            need: $size,
                            got: b.len(),
                        });
                    }
                    Ok(Self {
                        $( $field: $crate::wire::field(b, $off, stringify!($lmod), stringify!($fname))?, )*
                    })
                }

                /// Encodes every field into the first `SIZE` bytes of `b` (bytes no field
                /// covers are left as they are). Panics if `b` is shorter than `SIZE`.
                pub fn emit(&self, b: &mut [u8]) {
                    assert!(b.len() >= $size, concat!(stringify!($lmod), ": buffer too short"));
                    $( $crate::wire::Wire::write(&self.$field, &mut b[$off..$off + <$fty as $crate::wire::Wire>::BYTES]); )*
                }

                /// The encoded structure (bytes no field covers are zero).
                pub fn to_bytes(&self) -> [u8; $size] {
                    let mut b = [0u8; $size];
                    self.emit(&mut b);
                    b
                }
            }
        )*

        /// Every layout.
        pub const LAYOUTS: &[Layout] = &[ $( Layout {
            name: stringify!($lmod),
            size: $size,
            doc: $ldoc,
            fields: &[ $( Field {
                name: stringify!($fname),
                offset: $off,
                bytes: <$fty as $crate::wire::Wire>::BYTES,
                doc: $fdoc,
            }, )* ],
        }, )* ];
    };
}

/// Generates the module of one group of constants: a `u64` constant each and the group's
/// `CONSTS` (for the renderers). The one place `constants!`, `codes!` and `flag_sets!` make
/// their modules.
macro_rules! const_module {
    ($group:ident, $gdoc:expr => { $( $name:ident = $val:expr, $doc:expr; )* }) => {
        #[allow(non_snake_case)]
        #[doc = $gdoc]
        pub mod $group {
            use $crate::Const;
            $( #[doc = $doc] pub const $name: u64 = $val; )*
            /// The group's constants, for the renderers.
            pub const CONSTS: &[Const] = &[ $( Const { group: stringify!($group), name: stringify!($name), value: $val, doc: $doc }, )* ];
        }
    };
}

/// Generates, for each group of plain constants, a module of `u64` constants and its `CONSTS`.
macro_rules! constants {
    ($( $group:ident, $gdoc:expr => { $( $name:ident = $val:expr, $doc:expr; )* } )*) => {
        $( $crate::wire::const_module! { $group, $gdoc => { $( $name = $val, $doc; )* } } )*
    };
}

/// Generates, for each group of codes, a module of `u64` constants (for the renderers and the
/// RTL) and a `#[repr(u8)]` enum `$ty` with `TryFrom<u8>`, `name()` and `Wire`.
/// Constants written `@ NAME = value` belong to the group but are not codes of the enum.
macro_rules! codes {
    ($( $group:ident ($ty:ident), $gdoc:expr => {
        $( $var:ident $name:ident = $val:expr, $doc:expr; )*
        $( @ $xname:ident = $xval:expr, $xdoc:expr; )*
    } )*) => {
        $(
            $crate::wire::const_module! { $group, $gdoc => {
                $( $name = $val, $doc; )*
                $( $xname = $xval, $xdoc; )*
            } }

            #[doc = $gdoc]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            #[repr(u8)]
            pub enum $ty {
                $( #[doc = $doc] $var = $val as u8, )*
            }

            impl $ty {
                /// Every code, in spec order.
                pub const ALL: &'static [$ty] = &[ $( $ty::$var, )* ];

                /// The spec name of the code (`SOCK_ADD`, `BAD_SG`, ...).
                pub const fn name(self) -> &'static str {
                    match self { $( $ty::$var => stringify!($name), )* }
                }

                /// The code's numeric value.
                pub const fn code(self) -> u8 {
                    self as u8
                }
            }

            impl Default for $ty {
                fn default() -> Self {
                    Self::ALL[0]
                }
            }

            impl TryFrom<u8> for $ty {
                type Error = u8;
                fn try_from(v: u8) -> Result<Self, u8> {
                    $( if u64::from(v) == $val {
                        return Ok($ty::$var);
                    } )*
                    Err(v)
                }
            }

            impl From<$ty> for u8 {
                fn from(v: $ty) -> u8 {
                    v as u8
                }
            }

            impl std::fmt::Display for $ty {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(self.name())
                }
            }

            impl $crate::wire::Wire for $ty {
                const BYTES: usize = 1;
                fn read(b: &[u8]) -> Result<Self, (u64, &'static str)> {
                    $ty::try_from(b[0]).map_err(|v| (u64::from(v), stringify!($ty)))
                }
                fn write(&self, b: &mut [u8]) {
                    b[0] = *self as u8;
                }
                fn init() -> Self {
                    Self::ALL[0]
                }
            }
        )*
    };
}

/// Generates, for each group of flag bits, a module of `u64` constants and a `bitflags` type
/// `$ty` over `$bits` whose `Wire` encoding keeps unknown bits (a device checks them itself).
macro_rules! flag_sets {
    ($( $group:ident ($ty:ident : $bits:ty), $gdoc:expr => {
        $( $name:ident = $val:expr, $doc:expr; )*
    } )*) => {
        $(
            $crate::wire::const_module! { $group, $gdoc => { $( $name = $val, $doc; )* } }

            bitflags::bitflags! {
                #[doc = $gdoc]
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
                pub struct $ty: $bits {
                    $( #[doc = $doc] const $name = $val as $bits; )*
                }
            }

            impl $crate::wire::Wire for $ty {
                const BYTES: usize = std::mem::size_of::<$bits>();
                fn read(b: &[u8]) -> Result<Self, (u64, &'static str)> {
                    <$bits as $crate::wire::Wire>::read(b).map($ty::from_bits_retain)
                }
                fn write(&self, b: &mut [u8]) {
                    $crate::wire::Wire::write(&self.bits(), b)
                }
                fn init() -> Self {
                    $ty::empty()
                }
            }
        )*
    };
}

pub(crate) use {codes, const_module, constants, flag_sets, layouts};
