//! mixvote's native arithmetic core: batch group operations over whole columns of bytes.
//!
//! Python owns the types, the validation policy and the documentation (`crypto/groups/native.py`);
//! this crate owns the loops. Every function takes concatenated fixed-width encodings and returns
//! concatenated fixed-width encodings, runs without the GIL, and spreads its rows over a rayon
//! pool of the size the caller asks for.
//!
//! Curve arithmetic comes from maintained crates, none of it is written here:
//! * secp256k1: libsecp256k1 through the `secp256k1` crate (constant-time multiplication, the
//!   library coincurve wraps);
//! * P-256, P-384: RustCrypto `p256`/`p384` (constant-time scalar multiplication, SEC1
//!   decoding with on-curve checks); for all three, arkworks `ark-ec`'s Pippenger
//!   `VariableBaseMSM` over `ark-secp256k1`/`ark-secp256r1`/`ark-secp384r1` for the variable-time
//!   multi-scalar multiplication of public values;
//! * ristretto255: `curve25519-dalek` (constant-time multiplication, basepoint tables, and its
//!   Straus/Pippenger `VartimeMultiscalarMul`).
//!
//! Representations (all big-endian, fixed width):
//! * short-Weierstrass element (internal): `x || y`, 2·fb bytes; the identity is all zeros
//!   ((0, 0) lies on none of these curves since b ≠ 0);
//! * short-Weierstrass wire encoding: SEC1 compressed, 1 + fb bytes; the identity is all zeros;
//! * ristretto255 element and wire encoding: the 32-byte canonical encoding (identity: zeros);
//! * scalars: `scalar_size` bytes big-endian, below the group order (ristretto255 included; the
//!   byte order is reversed here for dalek).
//!
//! Functions whose running time depends on their (public) inputs are named `vartime_…`; every
//! other multiplication is constant time in the scalar.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

pyo3::create_exception!(
    mixvote_native,
    DecodeError,
    PyValueError,
    "An encoding that is not a valid group element; args are (index, reason)."
);

/// What can go wrong inside a batch: a rejected encoding (with its index) or misuse.
enum Fail {
    Decode(usize, &'static str),
    Value(String),
}

type R<T> = Result<T, Fail>;

fn to_pyerr(f: Fail) -> PyErr {
    match f {
        Fail::Decode(i, reason) => DecodeError::new_err((i, reason)),
        Fail::Value(s) => PyValueError::new_err(s),
    }
}

/// Rows per parallel task: large enough to amortise one batch normalisation (one inversion).
const CHUNK: usize = 256;

/// Map `f` over consecutive row ranges of `0..n` in parallel and concatenate the outputs in
/// order. The first error in row order wins, so a decoder reports the lowest bad index.
fn par_rows<F>(n: usize, f: F) -> R<Vec<u8>>
where
    F: Fn(Range<usize>) -> R<Vec<u8>> + Sync + Send,
{
    let ranges: Vec<Range<usize>> = (0..n).step_by(CHUNK).map(|s| s..(s + CHUNK).min(n)).collect();
    let parts: Vec<R<Vec<u8>>> = ranges.into_par_iter().map(&f).collect();
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&part?);
    }
    Ok(out)
}

fn check_rows(what: &str, data: &[u8], width: usize) -> R<usize> {
    if data.len() % width != 0 {
        return Err(Fail::Value(format!(
            "{what}: {} bytes is not a whole number of {width}-byte items",
            data.len()
        )));
    }
    Ok(data.len() / width)
}

fn same_count(what: &str, a: usize, b: usize) -> R<()> {
    if a != b {
        return Err(Fail::Value(format!("{what}: {a} elements but {b} scalars or elements")));
    }
    Ok(())
}

/// The row count of a `reencrypt_many` call: as many alphas as betas (`elem` bytes each) and
/// scalars (`scalar` bytes each).
fn reencrypt_rows(alphas: &[u8], betas: &[u8], rs: &[u8], elem: usize, scalar: usize) -> R<usize> {
    let n = check_rows("reencrypt_many", alphas, elem)?;
    same_count("reencrypt_many", n, check_rows("reencrypt_many", betas, elem)?)?;
    same_count("reencrypt_many", n, check_rows("reencrypt_many", rs, scalar)?)?;
    Ok(n)
}

/// Split interleaved elements `a_0 b_0 a_1 b_1 …` of `elem` bytes each into `(a…, b…)`.
fn deinterleave(both: &[u8], elem: usize) -> (Vec<u8>, Vec<u8>) {
    let mut a = Vec::with_capacity(both.len() / 2);
    let mut b = Vec::with_capacity(both.len() / 2);
    for (j, e) in both.chunks_exact(elem).enumerate() {
        if j % 2 == 0 { a.extend_from_slice(e) } else { b.extend_from_slice(e) }
    }
    (a, b)
}

/// `validate_many`: every `elem`-byte row of `a` must be accepted by `parse` and must not be the
/// all-zero identity.
fn validate_rows<P>(a: &[u8], elem: usize, parse: impl Fn(&[u8], usize) -> R<P> + Sync + Send) -> R<()> {
    let n = check_rows("validate_many", a, elem)?;
    par_rows(n, |r| {
        for i in r {
            let e = &a[i * elem..(i + 1) * elem];
            if is_zero(e) {
                return Err(Fail::Decode(i, "the identity element is not allowed here"));
            }
            parse(e, i).map_err(|_| Fail::Decode(i, "point is not on the curve"))?;
        }
        Ok(Vec::new())
    })?;
    Ok(())
}

/// `decode_many` over compressed SEC1 encodings of `wire` bytes each: the all-zero row is the
/// identity (`elem` zero bytes out; refused unless `allow_identity`), any other row must start
/// with 02 or 03 and is then decoded by `point(i, row, out)`, which appends its `elem` bytes.
fn decode_compressed<F>(data: &[u8], wire: usize, elem: usize, allow_identity: bool, point: F) -> R<Vec<u8>>
where
    F: Fn(usize, &[u8], &mut Vec<u8>) -> R<()> + Sync + Send,
{
    let n = check_rows("decode_many", data, wire)?;
    par_rows(n, |r| {
        let mut out = Vec::with_capacity(elem * r.len());
        for i in r {
            let d = &data[i * wire..(i + 1) * wire];
            if is_zero(d) {
                if !allow_identity {
                    return Err(Fail::Decode(i, "the identity element is not allowed here"));
                }
                out.resize(out.len() + elem, 0);
                continue;
            }
            if d[0] != 2 && d[0] != 3 {
                return Err(Fail::Decode(i, "not a compressed point (prefix must be 02 or 03)"));
            }
            point(i, d, &mut out)?;
        }
        Ok(out)
    })
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

macro_rules! weierstrass {
    ($m:ident, $rc:ident, $ark:ident, $fb:expr, $name:expr) => {
        mod $m {
            #![allow(dead_code)] // k256's module only lends its MSM to the libsecp256k1 one
            use super::*;
            use $rc::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar};
            use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
            use ark_ff::{BigInteger, PrimeField as _};
            use elliptic_curve::group::{Curve as _, Group as _};
            use elliptic_curve::ops::MulByGenerator;
            use elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
            use elliptic_curve::PrimeField;

            pub const FB: usize = $fb;
            pub const ELEM: usize = 2 * FB;
            pub const WIRE: usize = 1 + FB;
            pub const SCALAR: usize = FB;

            fn parse(e: &[u8], i: usize) -> R<ProjectivePoint> {
                if is_zero(e) {
                    return Ok(ProjectivePoint::IDENTITY);
                }
                let (mut x, mut y) = (FieldBytes::default(), FieldBytes::default());
                x.copy_from_slice(&e[..FB]);
                y.copy_from_slice(&e[FB..]);
                let ep = EncodedPoint::from_affine_coordinates(&x, &y, false);
                let a: Option<AffinePoint> = AffinePoint::from_encoded_point(&ep).into();
                a.map(ProjectivePoint::from).ok_or_else(|| {
                    Fail::Value(format!("{}: element {} is not a curve point", $name, i))
                })
            }

            fn scalar(b: &[u8], i: usize) -> R<Scalar> {
                let mut repr = FieldBytes::default();
                repr.copy_from_slice(b);
                let s: Option<Scalar> = Scalar::from_repr(repr).into();
                s.ok_or_else(|| {
                    Fail::Value(format!("{}: scalar {} is not below the group order", $name, i))
                })
            }

            fn write(a: &AffinePoint, out: &mut Vec<u8>) {
                let ep = a.to_encoded_point(false);
                match (ep.x(), ep.y()) {
                    (Some(x), Some(y)) => {
                        out.extend_from_slice(x);
                        out.extend_from_slice(y);
                    }
                    _ => out.extend_from_slice(&[0u8; ELEM]),
                }
            }

            /// Affine `x || y` of many points with one shared inversion. The crates' batch
            /// normalisation cannot invert z = 0, so identities (k ≡ 0 only) are set aside first.
            fn normalize(points: &[ProjectivePoint]) -> Vec<u8> {
                let zero: Vec<bool> = points.iter().map(|p| bool::from(p.is_identity())).collect();
                let safe: Vec<ProjectivePoint> = points
                    .iter()
                    .zip(&zero)
                    .map(|(p, &z)| if z { ProjectivePoint::GENERATOR } else { *p })
                    .collect();
                let mut aff = vec![AffinePoint::IDENTITY; points.len()];
                ProjectivePoint::batch_normalize(&safe, &mut aff);
                let mut out = Vec::with_capacity(ELEM * points.len());
                for (a, &z) in aff.iter().zip(&zero) {
                    if z {
                        out.extend_from_slice(&[0u8; ELEM]);
                    } else {
                        write(a, &mut out);
                    }
                }
                out
            }

            pub fn decode_many(data: &[u8], allow_identity: bool) -> R<Vec<u8>> {
                decode_compressed(data, WIRE, ELEM, allow_identity, |i, d, out| {
                    let ep = EncodedPoint::from_bytes(d)
                        .map_err(|_| Fail::Decode(i, "not a compressed point"))?;
                    let a: Option<AffinePoint> = AffinePoint::from_encoded_point(&ep).into();
                    match a {
                        Some(a) => write(&a, out),
                        None => return Err(Fail::Decode(i, "x is not below p or not on the curve")),
                    }
                    Ok(())
                })
            }

            pub fn encode_many(data: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("encode_many", data, ELEM)?;
                let mut out = Vec::with_capacity(WIRE * n);
                for e in data.chunks_exact(ELEM) {
                    if is_zero(e) {
                        out.extend_from_slice(&[0u8; WIRE]);
                    } else {
                        out.push(2 | (e[ELEM - 1] & 1));
                        out.extend_from_slice(&e[..FB]);
                    }
                }
                Ok(out)
            }

            pub fn add_many(a: &[u8], b: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("add_many", a, ELEM)?;
                same_count("add_many", n, check_rows("add_many", b, ELEM)?)?;
                par_rows(n, |r| {
                    let pts = r
                        .map(|i| Ok(parse(&a[i * ELEM..(i + 1) * ELEM], i)? + parse(&b[i * ELEM..(i + 1) * ELEM], i)?))
                        .collect::<R<Vec<_>>>()?;
                    Ok(normalize(&pts))
                })
            }

            /// Check that every `x || y` is a curve point (coordinates below p; not the identity).
            pub fn validate_many(a: &[u8]) -> R<()> {
                validate_rows(a, ELEM, parse)
            }

            pub fn neg_many(a: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("neg_many", a, ELEM)?;
                par_rows(n, |r| {
                    let pts = r
                        .map(|i| Ok(-parse(&a[i * ELEM..(i + 1) * ELEM], i)?))
                        .collect::<R<Vec<_>>>()?;
                    Ok(normalize(&pts))
                })
            }

            pub fn sum(a: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("sum", a, ELEM)?;
                let ranges: Vec<Range<usize>> =
                    (0..n).step_by(CHUNK).map(|s| s..(s + CHUNK).min(n)).collect();
                let partial = ranges
                    .into_par_iter()
                    .map(|r| {
                        let mut acc = ProjectivePoint::IDENTITY;
                        for i in r {
                            acc += parse(&a[i * ELEM..(i + 1) * ELEM], i)?;
                        }
                        Ok(acc)
                    })
                    .collect::<R<Vec<_>>>()?;
                let total = partial.into_iter().fold(ProjectivePoint::IDENTITY, |x, y| x + y);
                Ok(normalize(&[total]))
            }

            /// Constant time in the scalars.
            pub fn mul_many(points: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("mul_many", points, ELEM)?;
                same_count("mul_many", n, check_rows("mul_many", scalars, SCALAR)?)?;
                par_rows(n, |r| {
                    let pts = r
                        .map(|i| {
                            let p = parse(&points[i * ELEM..(i + 1) * ELEM], i)?;
                            Ok(p * scalar(&scalars[i * SCALAR..(i + 1) * SCALAR], i)?)
                        })
                        .collect::<R<Vec<_>>>()?;
                    Ok(normalize(&pts))
                })
            }

            /// Constant time in the scalars.
            pub fn mul_fixed_many(point: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
                if point.len() != ELEM {
                    return Err(Fail::Value(format!("mul_fixed_many: point must be {ELEM} bytes")));
                }
                let p = parse(point, 0)?;
                let n = check_rows("mul_fixed_many", scalars, SCALAR)?;
                par_rows(n, |r| {
                    let pts = r
                        .map(|i| Ok(p * scalar(&scalars[i * SCALAR..(i + 1) * SCALAR], i)?))
                        .collect::<R<Vec<_>>>()?;
                    Ok(normalize(&pts))
                })
            }

            /// Constant time in the scalars (k256 uses its precomputed generator tables).
            pub fn base_mul_many(scalars: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("base_mul_many", scalars, SCALAR)?;
                par_rows(n, |r| {
                    let pts = r
                        .map(|i| {
                            let k = scalar(&scalars[i * SCALAR..(i + 1) * SCALAR], i)?;
                            Ok(ProjectivePoint::mul_by_generator(&k))
                        })
                        .collect::<R<Vec<_>>>()?;
                    Ok(normalize(&pts))
                })
            }

            /// (alpha_i + r_i·g, beta_i + r_i·pk): ElGamal re-encryption, constant time in r_i.
            pub fn reencrypt_many(
                pk: &[u8],
                alphas: &[u8],
                betas: &[u8],
                rs: &[u8],
            ) -> R<(Vec<u8>, Vec<u8>)> {
                if pk.len() != ELEM {
                    return Err(Fail::Value(format!("reencrypt_many: key must be {ELEM} bytes")));
                }
                let y = parse(pk, 0)?;
                let n = reencrypt_rows(alphas, betas, rs, ELEM, SCALAR)?;
                let both = par_rows(n, |r| {
                    let mut pts = Vec::with_capacity(2 * r.len());
                    for i in r {
                        let k = scalar(&rs[i * SCALAR..(i + 1) * SCALAR], i)?;
                        pts.push(parse(&alphas[i * ELEM..(i + 1) * ELEM], i)? + ProjectivePoint::mul_by_generator(&k));
                        pts.push(parse(&betas[i * ELEM..(i + 1) * ELEM], i)? + y * k);
                    }
                    Ok(normalize(&pts))
                })?;
                Ok(deinterleave(&both, ELEM))
            }

            fn ark_point(e: &[u8], i: usize) -> R<$ark::Affine> {
                if is_zero(e) {
                    return Ok($ark::Affine::zero());
                }
                let x = $ark::Fq::from_be_bytes_mod_order(&e[..FB]);
                let y = $ark::Fq::from_be_bytes_mod_order(&e[FB..]);
                let a = $ark::Affine::new_unchecked(x, y);
                if !a.is_on_curve() {
                    return Err(Fail::Value(format!("{}: element {} is not a curve point", $name, i)));
                }
                Ok(a)
            }

            /// Σ k_i·P_i by arkworks' Pippenger: variable time, for public scalars and points.
            pub fn vartime_msm(points: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
                let n = check_rows("vartime_msm", points, ELEM)?;
                same_count("vartime_msm", n, check_rows("vartime_msm", scalars, SCALAR)?)?;
                let bases = (0..n)
                    .into_par_iter()
                    .map(|i| ark_point(&points[i * ELEM..(i + 1) * ELEM], i))
                    .collect::<R<Vec<_>>>()?;
                let ks: Vec<$ark::Fr> = (0..n)
                    .into_par_iter()
                    .map(|i| $ark::Fr::from_be_bytes_mod_order(&scalars[i * SCALAR..(i + 1) * SCALAR]))
                    .collect();
                let total = $ark::Projective::msm(&bases, &ks)
                    .map_err(|_| Fail::Value("vartime_msm: length mismatch".into()))?
                    .into_affine();
                let mut out = vec![0u8; ELEM];
                if !total.infinity {
                    let x = total.x.into_bigint().to_bytes_be();
                    let y = total.y.into_bigint().to_bytes_be();
                    out[FB - x.len().min(FB)..FB].copy_from_slice(&x[x.len().saturating_sub(FB)..]);
                    out[ELEM - y.len().min(FB)..].copy_from_slice(&y[y.len().saturating_sub(FB)..]);
                }
                Ok(out)
            }
        }
    };
}

weierstrass!(k256c, k256, ark_secp256k1, 32, "secp256k1");

/// secp256k1 on libsecp256k1 (the `secp256k1` crate; the library under coincurve, so the
/// constant-time paths are today's): parsing, `tweak_mul` (ecmult_const), `pubkey_create`
/// (ecmult_gen), `combine`. The library's public key cannot be the identity: `None` stands for it.
/// The variable-time MSM is arkworks' (shared with the k256 module: same `x || y` form).
mod secp256k1 {
    use super::*;
    use ::secp256k1::{All, PublicKey, Scalar as Tweak, Secp256k1, SecretKey};

    pub const ELEM: usize = 64;
    pub const WIRE: usize = 33;
    pub const SCALAR: usize = 32;

    fn ctx() -> &'static Secp256k1<All> {
        static CTX: OnceLock<Secp256k1<All>> = OnceLock::new();
        CTX.get_or_init(Secp256k1::new)
    }

    fn parse(e: &[u8], i: usize) -> R<Option<PublicKey>> {
        if is_zero(e) {
            return Ok(None);
        }
        let mut b = [0u8; 65];
        b[0] = 4;
        b[1..].copy_from_slice(e);
        PublicKey::from_slice(&b)
            .map(Some)
            .map_err(|_| Fail::Value(format!("secp256k1: element {i} is not a curve point")))
    }

    fn write(p: &Option<PublicKey>, out: &mut Vec<u8>) {
        match p {
            Some(p) => out.extend_from_slice(&p.serialize_uncompressed()[1..]),
            None => out.extend_from_slice(&[0u8; ELEM]),
        }
    }

    fn write_all(points: &[Option<PublicKey>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(ELEM * points.len());
        for p in points {
            write(p, &mut out);
        }
        out
    }

    fn add(a: Option<PublicKey>, b: Option<PublicKey>) -> Option<PublicKey> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => a.combine(&b).ok(), // Err only for a + b = O
        }
    }

    fn tweak(k: &[u8], i: usize) -> R<Tweak> {
        let mut b = [0u8; 32];
        b.copy_from_slice(k);
        Tweak::from_be_bytes(b)
            .map_err(|_| Fail::Value(format!("secp256k1: scalar {i} is not below the group order")))
    }

    /// k·P, constant time in k (ecmult_const); 0·P and k·O are the identity.
    fn mul(p: Option<PublicKey>, k: &[u8], i: usize) -> R<Option<PublicKey>> {
        let t = tweak(k, i)?;
        match p {
            Some(p) if !is_zero(k) => Ok(p.mul_tweak(ctx(), &t).ok()),
            _ => Ok(None),
        }
    }

    /// k·g, constant time in k (ecmult_gen with its precomputed table).
    fn base(k: &[u8], i: usize) -> R<Option<PublicKey>> {
        tweak(k, i)?;
        if is_zero(k) {
            return Ok(None);
        }
        let mut b = [0u8; 32];
        b.copy_from_slice(k);
        let sk = SecretKey::from_byte_array(b)
            .map_err(|_| Fail::Value(format!("secp256k1: scalar {i} is not a valid key")))?;
        Ok(Some(PublicKey::from_secret_key(ctx(), &sk)))
    }

    pub fn decode_many(data: &[u8], allow_identity: bool) -> R<Vec<u8>> {
        decode_compressed(data, WIRE, ELEM, allow_identity, |i, d, out| {
            match PublicKey::from_slice(d) {
                Ok(p) => write(&Some(p), out),
                Err(_) => return Err(Fail::Decode(i, "x is not below p or not on the curve")),
            }
            Ok(())
        })
    }

    pub fn encode_many(data: &[u8]) -> R<Vec<u8>> {
        k256c::encode_many(data)
    }

    /// Check that every `x || y` is a curve point (libsecp256k1's uncompressed parse: both
    /// coordinates below p, on the curve); the identity is refused.
    pub fn validate_many(a: &[u8]) -> R<()> {
        validate_rows(a, ELEM, parse)
    }

    pub fn add_many(a: &[u8], b: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("add_many", a, ELEM)?;
        same_count("add_many", n, check_rows("add_many", b, ELEM)?)?;
        par_rows(n, |r| {
            let pts = r
                .map(|i| Ok(add(parse(&a[i * ELEM..(i + 1) * ELEM], i)?, parse(&b[i * ELEM..(i + 1) * ELEM], i)?)))
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn neg_many(a: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("neg_many", a, ELEM)?;
        par_rows(n, |r| {
            let pts = r
                .map(|i| Ok(parse(&a[i * ELEM..(i + 1) * ELEM], i)?.map(|p| p.negate(ctx()))))
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn sum(a: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("sum", a, ELEM)?;
        let ranges: Vec<Range<usize>> = (0..n).step_by(CHUNK).map(|s| s..(s + CHUNK).min(n)).collect();
        let partial = ranges
            .into_par_iter()
            .map(|r| {
                let pts = r
                    .map(|i| parse(&a[i * ELEM..(i + 1) * ELEM], i))
                    .collect::<R<Vec<_>>>()?;
                let present: Vec<&PublicKey> = pts.iter().flatten().collect();
                // one Jacobian accumulation per chunk; Err means the chunk sums to O (or is empty)
                Ok(PublicKey::combine_keys(&present).ok())
            })
            .collect::<R<Vec<_>>>()?;
        Ok(write_all(&[partial.into_iter().fold(None, add)]))
    }

    pub fn mul_many(points: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("mul_many", points, ELEM)?;
        same_count("mul_many", n, check_rows("mul_many", scalars, SCALAR)?)?;
        par_rows(n, |r| {
            let pts = r
                .map(|i| mul(parse(&points[i * ELEM..(i + 1) * ELEM], i)?, &scalars[i * SCALAR..(i + 1) * SCALAR], i))
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn mul_fixed_many(point: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
        if point.len() != ELEM {
            return Err(Fail::Value(format!("mul_fixed_many: point must be {ELEM} bytes")));
        }
        let p = parse(point, 0)?;
        let n = check_rows("mul_fixed_many", scalars, SCALAR)?;
        par_rows(n, |r| {
            let pts = r.map(|i| mul(p, &scalars[i * SCALAR..(i + 1) * SCALAR], i)).collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn base_mul_many(scalars: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("base_mul_many", scalars, SCALAR)?;
        par_rows(n, |r| {
            let pts = r.map(|i| base(&scalars[i * SCALAR..(i + 1) * SCALAR], i)).collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn reencrypt_many(pk: &[u8], alphas: &[u8], betas: &[u8], rs: &[u8]) -> R<(Vec<u8>, Vec<u8>)> {
        if pk.len() != ELEM {
            return Err(Fail::Value(format!("reencrypt_many: key must be {ELEM} bytes")));
        }
        let y = parse(pk, 0)?;
        let n = reencrypt_rows(alphas, betas, rs, ELEM, SCALAR)?;
        let both = par_rows(n, |r| {
            let mut pts = Vec::with_capacity(2 * r.len());
            for i in r {
                let k = &rs[i * SCALAR..(i + 1) * SCALAR];
                pts.push(add(parse(&alphas[i * ELEM..(i + 1) * ELEM], i)?, base(k, i)?));
                pts.push(add(parse(&betas[i * ELEM..(i + 1) * ELEM], i)?, mul(y, k, i)?));
            }
            Ok(write_all(&pts))
        })?;
        Ok(deinterleave(&both, ELEM))
    }

    pub fn vartime_msm(points: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
        k256c::vartime_msm(points, scalars)
    }
}
weierstrass!(p256c, p256, ark_secp256r1, 32, "P-256");
weierstrass!(p384c, p384, ark_secp384r1, 48, "P-384");

mod ristretto {
    use super::*;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
    use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};

    pub const ELEM: usize = 32;
    pub const WIRE: usize = 32;
    pub const SCALAR: usize = 32;
    /// From this many scalars on, `mul_fixed_many` builds a (constant-time) table for the point.
    const TABLE_THRESHOLD: usize = 16;

    fn parse(e: &[u8], i: usize) -> R<RistrettoPoint> {
        let mut b = [0u8; 32];
        b.copy_from_slice(e);
        CompressedRistretto(b).decompress().ok_or_else(|| {
            Fail::Value(format!("ristretto255: element {i} is not a canonical encoding"))
        })
    }

    fn scalar(b: &[u8], i: usize) -> R<Scalar> {
        let mut le = [0u8; 32];
        le.copy_from_slice(b);
        le.reverse();
        let s: Option<Scalar> = Scalar::from_canonical_bytes(le).into();
        s.ok_or_else(|| Fail::Value(format!("ristretto255: scalar {i} is not below the group order")))
    }

    fn write_all(points: &[RistrettoPoint]) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 * points.len());
        for p in points {
            out.extend_from_slice(p.compress().as_bytes());
        }
        out
    }

    pub fn decode_many(data: &[u8], allow_identity: bool) -> R<Vec<u8>> {
        let n = check_rows("decode_many", data, WIRE)?;
        par_rows(n, |r| {
            let mut out = Vec::with_capacity(32 * r.len());
            for i in r {
                let d = &data[i * 32..(i + 1) * 32];
                if is_zero(d) && !allow_identity {
                    return Err(Fail::Decode(i, "the identity element is not allowed here"));
                }
                // dalek's decompress is RFC 9496 §4.3.1 decoding: it rejects non-canonical field
                // encodings (the top bit included), negative s and invalid points.
                let mut b = [0u8; 32];
                b.copy_from_slice(d);
                if CompressedRistretto(b).decompress().is_none() {
                    return Err(Fail::Decode(i, "not a canonical encoding of a group element"));
                }
                out.extend_from_slice(d);
            }
            Ok(out)
        })
    }

    pub fn encode_many(data: &[u8]) -> R<Vec<u8>> {
        check_rows("encode_many", data, ELEM)?;
        Ok(data.to_vec())
    }

    pub fn validate_many(a: &[u8]) -> R<()> {
        decode_many(a, false).map(|_| ())
    }

    pub fn add_many(a: &[u8], b: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("add_many", a, ELEM)?;
        same_count("add_many", n, check_rows("add_many", b, ELEM)?)?;
        par_rows(n, |r| {
            let pts = r
                .map(|i| Ok(parse(&a[i * 32..(i + 1) * 32], i)? + parse(&b[i * 32..(i + 1) * 32], i)?))
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn neg_many(a: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("neg_many", a, ELEM)?;
        par_rows(n, |r| {
            let pts = r.map(|i| Ok(-parse(&a[i * 32..(i + 1) * 32], i)?)).collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    pub fn sum(a: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("sum", a, ELEM)?;
        let ranges: Vec<Range<usize>> = (0..n).step_by(CHUNK).map(|s| s..(s + CHUNK).min(n)).collect();
        let partial = ranges
            .into_par_iter()
            .map(|r| {
                let mut acc = RistrettoPoint::identity();
                for i in r {
                    acc += parse(&a[i * 32..(i + 1) * 32], i)?;
                }
                Ok(acc)
            })
            .collect::<R<Vec<_>>>()?;
        let total: RistrettoPoint = partial.into_iter().fold(RistrettoPoint::identity(), |x, y| x + y);
        Ok(total.compress().as_bytes().to_vec())
    }

    /// Constant time in the scalars.
    pub fn mul_many(points: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("mul_many", points, ELEM)?;
        same_count("mul_many", n, check_rows("mul_many", scalars, SCALAR)?)?;
        par_rows(n, |r| {
            let pts = r
                .map(|i| Ok(parse(&points[i * 32..(i + 1) * 32], i)? * scalar(&scalars[i * 32..(i + 1) * 32], i)?))
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    /// Constant time in the scalars; a dalek basepoint table for the point when it pays.
    pub fn mul_fixed_many(point: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
        if point.len() != ELEM {
            return Err(Fail::Value("mul_fixed_many: point must be 32 bytes".into()));
        }
        let p = parse(point, 0)?;
        let n = check_rows("mul_fixed_many", scalars, SCALAR)?;
        let table = (n >= TABLE_THRESHOLD).then(|| RistrettoBasepointTable::create(&p));
        par_rows(n, |r| {
            let pts = r
                .map(|i| {
                    let k = scalar(&scalars[i * 32..(i + 1) * 32], i)?;
                    Ok(match &table {
                        Some(t) => t * &k,
                        None => p * k,
                    })
                })
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    /// Constant time in the scalars (dalek's precomputed basepoint table).
    pub fn base_mul_many(scalars: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("base_mul_many", scalars, SCALAR)?;
        par_rows(n, |r| {
            let pts = r
                .map(|i| Ok(RISTRETTO_BASEPOINT_TABLE * &scalar(&scalars[i * 32..(i + 1) * 32], i)?))
                .collect::<R<Vec<_>>>()?;
            Ok(write_all(&pts))
        })
    }

    /// (alpha_i + r_i·g, beta_i + r_i·pk), constant time in r_i.
    pub fn reencrypt_many(pk: &[u8], alphas: &[u8], betas: &[u8], rs: &[u8]) -> R<(Vec<u8>, Vec<u8>)> {
        if pk.len() != ELEM {
            return Err(Fail::Value("reencrypt_many: key must be 32 bytes".into()));
        }
        let y = parse(pk, 0)?;
        let table = RistrettoBasepointTable::create(&y);
        let n = reencrypt_rows(alphas, betas, rs, ELEM, SCALAR)?;
        let both = par_rows(n, |r| {
            let mut pts = Vec::with_capacity(2 * r.len());
            for i in r {
                let k = scalar(&rs[i * 32..(i + 1) * 32], i)?;
                pts.push(parse(&alphas[i * 32..(i + 1) * 32], i)? + RISTRETTO_BASEPOINT_TABLE * &k);
                pts.push(parse(&betas[i * 32..(i + 1) * 32], i)? + &table * &k);
            }
            Ok(write_all(&pts))
        })?;
        Ok(deinterleave(&both, 32))
    }

    /// Σ k_i·P_i by dalek's multiscalar multiplication, one slice per pool thread: variable time.
    pub fn vartime_msm(points: &[u8], scalars: &[u8]) -> R<Vec<u8>> {
        let n = check_rows("vartime_msm", points, ELEM)?;
        same_count("vartime_msm", n, check_rows("vartime_msm", scalars, SCALAR)?)?;
        let parts = rayon::current_num_threads().max(1);
        let size = n.div_ceil(parts).max(1);
        let partial = (0..n)
            .step_by(size)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| {
                let r = s..(s + size).min(n);
                let pts = r.clone().map(|i| parse(&points[i * 32..(i + 1) * 32], i)).collect::<R<Vec<_>>>()?;
                let ks = r.map(|i| scalar(&scalars[i * 32..(i + 1) * 32], i)).collect::<R<Vec<_>>>()?;
                Ok(RistrettoPoint::vartime_multiscalar_mul(ks.iter(), pts.iter()))
            })
            .collect::<R<Vec<_>>>()?;
        let total: RistrettoPoint = partial.into_iter().fold(RistrettoPoint::identity(), |x, y| x + y);
        Ok(total.compress().as_bytes().to_vec())
    }

    /// RFC 9496 §4.3.4: the element derived from 64 uniform bytes.
    pub fn from_uniform_bytes(data: &[u8]) -> R<Vec<u8>> {
        let b: [u8; 64] = data
            .try_into()
            .map_err(|_| Fail::Value("from_uniform_bytes: need exactly 64 bytes".into()))?;
        Ok(RistrettoPoint::from_uniform_bytes(&b).compress().as_bytes().to_vec())
    }
}

#[derive(Clone, Copy)]
enum Curve {
    K256,
    P256,
    P384,
    Ristretto,
}

fn curve(name: &str) -> PyResult<Curve> {
    match name {
        "secp256k1" => Ok(Curve::K256),
        "P-256" => Ok(Curve::P256),
        "P-384" => Ok(Curve::P384),
        "ristretto255" => Ok(Curve::Ristretto),
        _ => Err(PyValueError::new_err(format!(
            "unknown curve {name:?}; the native core has secp256k1, P-256, P-384, ristretto255"
        ))),
    }
}

macro_rules! dispatch {
    ($c:expr, $f:ident, $($a:expr),*) => {
        match $c {
            Curve::K256 => secp256k1::$f($($a),*),
            Curve::P256 => p256c::$f($($a),*),
            Curve::P384 => p384c::$f($($a),*),
            Curve::Ristretto => ristretto::$f($($a),*),
        }
    };
}

/// A rayon pool of exactly `threads` threads, built once per size and per process: a process
/// forked from one that had a pool (crypto/parallel.py forks its workers) inherits the pool but not
/// its threads, so it must build its own rather than wait on threads that do not exist.
fn pool(threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<(u32, usize), Arc<rayon::ThreadPool>>>> = OnceLock::new();
    if threads == 0 || threads > 1024 {
        return Err(PyValueError::new_err(format!("threads must be in 1..=1024, got {threads}")));
    }
    let mut pools = POOLS.get_or_init(|| Mutex::new(HashMap::new())).lock().map_err(|_| {
        PyValueError::new_err("native thread-pool registry is poisoned")
    })?;
    let key = (std::process::id(), threads);
    if let Some(p) = pools.get(&key) {
        return Ok(p.clone());
    }
    // Pools of the parent process have no threads here; forget them (their memory is leaked on
    // purpose: dropping a pool would try to join threads that were never started in this process).
    let inherited: Vec<(u32, usize)> = pools.keys().filter(|k| k.0 != key.0).copied().collect();
    for k in inherited {
        if let Some(p) = pools.remove(&k) {
            std::mem::forget(p);
        }
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("mixvote-native-{i}"))
            .build()
            .map_err(|e| PyValueError::new_err(format!("cannot start {threads} threads: {e}")))?,
    );
    pools.insert(key, p.clone());
    Ok(p)
}

/// Run `f` on a pool of `threads` threads with the GIL released.
fn run<T: Send>(py: Python<'_>, threads: usize, f: impl FnOnce() -> R<T> + Send) -> PyResult<T> {
    let p = pool(threads)?;
    py.allow_threads(|| p.install(f)).map_err(to_pyerr)
}

/// A binding `name(curve_name, args…, threads) -> bytes` that runs the curve's own `name` on a
/// pool of `threads` threads with the GIL released.
macro_rules! bytes_binding {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        #[pyfunction]
        fn $name<'py>(py: Python<'py>, curve_name: &str, $($arg: $ty,)* threads: usize) -> PyResult<Bound<'py, PyBytes>> {
            let c = curve(curve_name)?;
            let out = run(py, threads, || dispatch!(c, $name, $($arg),*))?;
            Ok(PyBytes::new(py, &out))
        }
    };
}

/// Decode and validate concatenated wire encodings; DecodeError(index, reason) on the first bad one.
#[pyfunction]
fn decode_many<'py>(py: Python<'py>, curve_name: &str, data: &[u8], allow_identity: bool, threads: usize) -> PyResult<Bound<'py, PyBytes>> {
    let c = curve(curve_name)?;
    let out = run(py, threads, || dispatch!(c, decode_many, data, allow_identity))?;
    Ok(PyBytes::new(py, &out))
}

/// Concatenated wire encodings of concatenated elements.
#[pyfunction]
fn encode_many<'py>(py: Python<'py>, curve_name: &str, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let c = curve(curve_name)?;
    let out = dispatch!(c, encode_many, data).map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &out))
}

bytes_binding! {
    /// Element-wise sums a_i + b_i.
    fn add_many(a: &[u8], b: &[u8])
}

bytes_binding! {
    /// Element-wise negations.
    fn neg_many(a: &[u8])
}

bytes_binding! {
    /// The sum of all elements.
    fn sum(a: &[u8])
}

bytes_binding! {
    /// [k_i·P_i], constant time in the scalars.
    fn mul_many(points: &[u8], scalars: &[u8])
}

bytes_binding! {
    /// [k_i·P] for one point, constant time in the scalars.
    fn mul_fixed_many(point: &[u8], scalars: &[u8])
}

bytes_binding! {
    /// [k_i·g] for the standard generator, constant time in the scalars.
    fn base_mul_many(scalars: &[u8])
}

/// ElGamal re-encryption of many (alpha, beta) pairs: (alpha_i + r_i·g, beta_i + r_i·pk).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn reencrypt_many<'py>(
    py: Python<'py>,
    curve_name: &str,
    pk: &[u8],
    alphas: &[u8],
    betas: &[u8],
    rs: &[u8],
    threads: usize,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let c = curve(curve_name)?;
    let (a, b) = run(py, threads, || dispatch!(c, reencrypt_many, pk, alphas, betas, rs))?;
    Ok((PyBytes::new(py, &a), PyBytes::new(py, &b)))
}

bytes_binding! {
    /// Σ k_i·P_i, variable time (public points and scalars only).
    fn vartime_msm(points: &[u8], scalars: &[u8])
}

/// Verificatum byte trees (`verificatum-format.md` §1.3) of a column of affine points in the
/// internal `x || y` form (`2·fb` bytes each): `infinity` for the all-zero identity, else
/// `point_head || 0^pad || x || coord_head || 0^pad || y`. Plain byte copying, no arithmetic.
#[pyfunction]
fn affine_trees<'py>(
    py: Python<'py>,
    data: &[u8],
    fb: usize,
    point_head: &[u8],
    coord_head: &[u8],
    pad: usize,
    infinity: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    if fb == 0 || data.len() % (2 * fb) != 0 {
        return Err(PyValueError::new_err("affine_trees: data is not a whole number of 2·fb-byte points"));
    }
    let size = point_head.len() + coord_head.len() + 2 * (pad + fb);
    if infinity.len() != size {
        return Err(PyValueError::new_err("affine_trees: the infinity tree has the wrong size"));
    }
    let n = data.len() / (2 * fb);
    let zeros = vec![0u8; pad];
    let mut out = Vec::with_capacity(size * n);
    for e in data.chunks_exact(2 * fb) {
        if is_zero(e) {
            out.extend_from_slice(infinity);
        } else {
            out.extend_from_slice(point_head);
            out.extend_from_slice(&zeros);
            out.extend_from_slice(&e[..fb]);
            out.extend_from_slice(coord_head);
            out.extend_from_slice(&zeros);
            out.extend_from_slice(&e[fb..]);
        }
    }
    Ok(PyBytes::new(py, &out))
}

/// Internal `x || y` elements from a column of Verificatum affine-point byte trees (the inverse
/// of `affine_trees` for well-formed input): every tree must have exactly the given heads and
/// zero padding, and every point must be on the curve and not the identity; otherwise
/// DecodeError(index, reason) for the first bad one.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn points_from_trees<'py>(
    py: Python<'py>,
    curve_name: &str,
    data: &[u8],
    fb: usize,
    point_head: &[u8],
    coord_head: &[u8],
    pad: usize,
    threads: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let c = curve(curve_name)?;
    if matches!(c, Curve::Ristretto) || fb == 0 {
        return Err(PyValueError::new_err("points_from_trees: only for short-Weierstrass curves"));
    }
    let (ph, ch) = (point_head.len(), coord_head.len());
    let size = ph + ch + 2 * (pad + fb);
    if data.len() % size != 0 {
        return Err(PyValueError::new_err("points_from_trees: not a whole number of point trees"));
    }
    let n = data.len() / size;
    let out = run(py, threads, || {
        let xy = par_rows(n, |r| {
            let mut out = Vec::with_capacity(2 * fb * r.len());
            for i in r {
                let t = &data[i * size..(i + 1) * size];
                let (x_at, y_at) = (ph + pad, ph + pad + fb + ch + pad);
                if &t[..ph] != point_head
                    || !is_zero(&t[ph..x_at])
                    || &t[x_at + fb..x_at + fb + ch] != coord_head
                    || !is_zero(&t[x_at + fb + ch..y_at])
                {
                    return Err(Fail::Decode(i, "not the byte tree of an affine point"));
                }
                out.extend_from_slice(&t[x_at..x_at + fb]);
                out.extend_from_slice(&t[y_at..y_at + fb]);
            }
            Ok(out)
        })?;
        dispatch!(c, validate_many, &xy)?;
        Ok(xy)
    })?;
    Ok(PyBytes::new(py, &out))
}

/// ristretto255 element from 64 uniform bytes (RFC 9496 §4.3.4).
#[pyfunction]
fn ristretto255_from_uniform_bytes<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let out = ristretto::from_uniform_bytes(data).map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &out))
}

/// (element bytes, wire bytes, scalar bytes) of a curve.
#[pyfunction]
fn sizes(curve_name: &str) -> PyResult<(usize, usize, usize)> {
    Ok(match curve(curve_name)? {
        Curve::K256 => (secp256k1::ELEM, secp256k1::WIRE, secp256k1::SCALAR),
        Curve::P256 => (p256c::ELEM, p256c::WIRE, p256c::SCALAR),
        Curve::P384 => (p384c::ELEM, p384c::WIRE, p384c::SCALAR),
        Curve::Ristretto => (ristretto::ELEM, ristretto::WIRE, ristretto::SCALAR),
    })
}

#[pymodule]
fn mixvote_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "CRATES",
        "secp256k1 0.31 (libsecp256k1), p256 0.13, p384 0.13, ark-ec 0.5 (MSM), curve25519-dalek 4.1, rayon 1",
    )?;
    m.add("DecodeError", m.py().get_type::<DecodeError>())?;
    m.add_function(wrap_pyfunction!(decode_many, m)?)?;
    m.add_function(wrap_pyfunction!(encode_many, m)?)?;
    m.add_function(wrap_pyfunction!(add_many, m)?)?;
    m.add_function(wrap_pyfunction!(neg_many, m)?)?;
    m.add_function(wrap_pyfunction!(sum, m)?)?;
    m.add_function(wrap_pyfunction!(mul_many, m)?)?;
    m.add_function(wrap_pyfunction!(mul_fixed_many, m)?)?;
    m.add_function(wrap_pyfunction!(base_mul_many, m)?)?;
    m.add_function(wrap_pyfunction!(reencrypt_many, m)?)?;
    m.add_function(wrap_pyfunction!(vartime_msm, m)?)?;
    m.add_function(wrap_pyfunction!(affine_trees, m)?)?;
    m.add_function(wrap_pyfunction!(points_from_trees, m)?)?;
    m.add_function(wrap_pyfunction!(ristretto255_from_uniform_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(sizes, m)?)?;
    Ok(())
}
