/**
 * mixvote ballot cryptography in the browser (and in node for the JS/Python agreement tests).
 *
 * Mirrors, byte for byte, the Python reference: crypto/hashing.py (the one Fiat–Shamir entry
 * point), crypto/groups/ (canonical element encodings; the x-coordinate embedding of short byte
 * strings of crypto/groups/weierstrass.py), crypto/elgamal.py (multi-element ElGamal and its
 * ciphertext encoding) and crypto/ballot.py (ballot encoding and the Schnorr proof of knowledge of
 * the encryption randomness, bound by Fiat–Shamir to the election and the voter's credential:
 * Schnorr, J. Cryptology 4(3), 1991; Bernhard–Pereira–Warinschi, "How not to prove yourself",
 * ASIACRYPT 2012, on hashing the whole statement). Curve arithmetic is @noble/curves and hashing
 * is @noble/hashes, both from the npm registry, served unbundled by the Flask app (docs/webui.md).
 *
 * Pure functions only: randomised functions take `rng` (n -> Uint8Array of n random bytes),
 * defaulting to crypto.getRandomValues, so that tests can pin the randomness.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { p256 } from '@noble/curves/nist.js';
import { ed25519, ristretto255 } from '@noble/curves/ed25519.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { sha256 } from '@noble/hashes/sha2.js';

export const PROJECT_TAG = 'mixvote/v1/';

// --- bytes ----------------------------------------------------------------------------------------
const utf8 = new TextEncoder();

/** UTF-8 bytes of a string. */
export function textBytes(text) {
  return utf8.encode(text);
}

/** Concatenation of byte arrays. */
export function concatBytes(...arrays) {
  let n = 0;
  for (const a of arrays) n += a.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a hex string; throws on odd length or a non-hex digit. */
export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 || /[^0-9a-fA-F]/.test(hex)) {
    throw new Error('fromHex: not an even-length hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Big-endian unsigned integer in exactly `size` bytes (crypto/encoding.py encode_uint). */
export function encodeUint(value, size) {
  let v = BigInt(value);
  if (v < 0n) throw new Error('encodeUint: negative value');
  const out = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v) throw new Error(`encodeUint: value does not fit in ${size} bytes`);
  return out;
}

/** Big-endian bytes -> bigint. */
export function bytesToInt(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Length-prefixed bytes: 4-byte big-endian length, then the data (crypto/encoding.py lp). */
export function lp(data) {
  return concatBytes(encodeUint(data.length, 4), data);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function bitLength(n) {
  return n.toString(2).length;
}

// --- Fiat–Shamir hashing (crypto/hashing.py) -------------------------------------------------------
/** SHAKE-256 over lp(tag || dst) || uint32(#parts) || lp(part)...; `size` output bytes. */
export function hashBytes(dst, parts, size = 32) {
  if (!dst) throw new Error('hashBytes: a domain-separation tag is mandatory');
  const h = shake256.create({ dkLen: size });
  h.update(lp(textBytes(PROJECT_TAG + dst)));
  h.update(encodeUint(parts.length, 4));
  for (const part of parts) {
    if (!(part instanceof Uint8Array)) throw new Error('hashBytes: parts must be Uint8Array');
    h.update(lp(part));
  }
  return h.digest();
}

/** Challenge in Z_q: 128 bits more than the order, big-endian, reduced mod q. */
export function hashToScalar(group, dst, parts) {
  const size = Math.floor((bitLength(group.order) + 128 + 7) / 8);
  return bytesToInt(hashBytes(dst, parts, size)) % group.order;
}

// --- groups ----------------------------------------------------------------------------------------
function modPow(base, exp, m) {
  let result = 1n;
  let b = ((base % m) + m) % m;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** What every group shares: scalar arithmetic mod the order on top of noble's Point class. */
class PrimeOrderGroup {
  constructor(name, Point, order, elementSize, embedCapacity) {
    this.name = name;
    this.Point = Point;
    this.order = order;
    this.elementSize = elementSize;
    this.scalarSize = Math.floor((bitLength(order) + 7) / 8);
    this.embedCapacity = embedCapacity;
    this.identity = Point.ZERO;
    this.generator = Point.BASE;
  }

  add(p, q) {
    return p.add(q);
  }

  sub(p, q) {
    return p.subtract(q);
  }

  mul(point, k) {
    const s = this.reduce(k);
    return s === 0n || point.is0() ? this.identity : point.multiply(s);
  }

  baseMul(k) {
    const s = this.reduce(k);
    return s === 0n ? this.identity : this.generator.multiply(s);
  }

  equals(p, q) {
    return p.equals(q);
  }

  reduce(k) {
    return ((BigInt(k) % this.order) + this.order) % this.order;
  }

  /** Fixed-width big-endian scalar (crypto/groups/base.py encode_scalar). */
  encodeScalar(k) {
    return encodeUint(this.reduce(k), this.scalarSize);
  }

  /** Canonical scalar: exactly scalarSize bytes, below the order. */
  decodeScalar(bytes, what = 'scalar') {
    if (bytes.length !== this.scalarSize) throw new Error(`${this.name} ${what}: wrong length`);
    const v = bytesToInt(bytes);
    if (v >= this.order) throw new Error(`${this.name} ${what}: not below the order`);
    return v;
  }

  /** Uniform non-zero scalar from `rng` (64 extra bits before reduction). */
  randomScalar(rng = systemRng) {
    for (;;) {
      const k = bytesToInt(rng(this.scalarSize + 8)) % this.order;
      if (k !== 0n) return k;
    }
  }
}

/**
 * A short-Weierstrass prime-order group on a noble curve: compressed SEC1 encodings, the identity
 * encoded as all-zero bytes, and the x-coordinate embedding of crypto/groups/weierstrass.py
 * (x = len || payload || zero padding || counter, the first counter on the curve, even y).
 */
class WeierstrassGroup extends PrimeOrderGroup {
  constructor(name, curve, embedCapacity) {
    const params = curve.Point.CURVE();
    const fieldBytes = Math.floor((bitLength(params.p) + 7) / 8);
    super(name, curve.Point, params.n, fieldBytes + 1, embedCapacity);
    this.fieldPrime = params.p;
    this.fieldBytes = fieldBytes;
    this.a = params.a;
    this.b = params.b;
    Object.freeze(this);
  }

  /** Canonical encoding; the identity is elementSize zero bytes. */
  encode(point) {
    if (point.is0()) return new Uint8Array(this.elementSize);
    return point.toBytes(true);
  }

  /** The one trust-boundary decoder: length, prefix, on-curve, identity only when allowed. */
  decode(bytes, allowIdentity = false) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== this.elementSize) {
      throw new Error(`${this.name}: element encoding must be ${this.elementSize} bytes`);
    }
    if (bytes.every((b) => b === 0)) {
      if (!allowIdentity) throw new Error(`${this.name}: the identity element is not allowed here`);
      return this.identity;
    }
    if (bytes[0] !== 2 && bytes[0] !== 3) {
      throw new Error(`${this.name}: not a compressed point (prefix must be 02 or 03)`);
    }
    try {
      const point = this.Point.fromBytes(bytes);
      point.assertValidity();
      return point;
    } catch (e) {
      throw new Error(`${this.name}: x is not below p or not on the curve`);
    }
  }

  rhs(x) {
    const p = this.fieldPrime;
    return (((((x * x) % p) * x) % p) + this.a * x + this.b) % p;
  }

  isSquare(v) {
    const p = this.fieldPrime;
    const r = ((v % p) + p) % p;
    return r === 0n || modPow(r, (p - 1n) / 2n, p) === 1n;
  }

  embed(payload) {
    const cap = this.embedCapacity;
    if (payload.length > cap) {
      throw new Error(`${this.name}: payload of ${payload.length} bytes exceeds capacity ${cap}`);
    }
    const body = concatBytes(Uint8Array.of(payload.length), payload, new Uint8Array(cap - payload.length));
    for (let counter = 0; counter < 256; counter++) {
      const x = bytesToInt(concatBytes(body, Uint8Array.of(counter)));
      if (x < this.fieldPrime && this.isSquare(this.rhs(x))) {
        return this.decode(concatBytes(Uint8Array.of(2), encodeUint(x, this.fieldBytes)));
      }
    }
    throw new Error(`${this.name}: no embedding found for this payload`);
  }

  /** Inverse of embed; throws when the point is no embedding. */
  extract(point) {
    const enc = this.encode(point);
    if (enc[0] !== 2) throw new Error(`${this.name}: element is not an embedding (odd y)`);
    const cap = this.embedCapacity;
    let raw;
    try {
      raw = encodeUint(bytesToInt(enc.subarray(1)), cap + 2);
    } catch (e) {
      throw new Error(`${this.name}: element is not an embedding`);
    }
    const n = raw[0];
    if (n > cap || raw.subarray(1 + n, 1 + cap).some((b) => b !== 0)) {
      throw new Error(`${this.name}: element is not an embedding`);
    }
    return raw.slice(1, 1 + n);
  }
}

/**
 * ristretto255 (RFC 9496): 32-byte canonical encodings, the identity as 32 zero bytes, and the
 * embedding of crypto/groups/ristretto255.py: candidates 2c || n || m || zeros for c = 0..127,
 * the first that is a canonical encoding of a non-identity element.
 */
class RistrettoGroup extends PrimeOrderGroup {
  constructor() {
    const Point = ristretto255.Point;
    super('ristretto255', Point, Point.Fn.ORDER, 32, 29);
    Object.freeze(this);
  }

  encode(point) {
    return point.toBytes();
  }

  decode(bytes, allowIdentity = false) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== this.elementSize) {
      throw new Error(`${this.name}: element encoding must be ${this.elementSize} bytes`);
    }
    let point;
    try {
      point = this.Point.fromBytes(bytes);
    } catch (e) {
      throw new Error(`${this.name}: not a canonical encoding of a group element`);
    }
    if (point.is0() && !allowIdentity) {
      throw new Error(`${this.name}: the identity element is not allowed here`);
    }
    return point;
  }

  embed(payload) {
    const cap = this.embedCapacity;
    if (payload.length > cap) {
      throw new Error(`${this.name}: payload of ${payload.length} bytes exceeds capacity ${cap}`);
    }
    const tail = concatBytes(Uint8Array.of(payload.length), payload, new Uint8Array(cap + 1 - payload.length));
    for (let counter = 0; counter < 128; counter++) {
      const candidate = concatBytes(Uint8Array.of(counter << 1), tail);
      if (candidate.every((b) => b === 0)) continue;
      try {
        return this.decode(candidate);
      } catch (e) {
        // not a canonical encoding of an element: try the next counter
      }
    }
    throw new Error(`${this.name}: no embedding found for this payload`);
  }

  extract(point) {
    const a = this.encode(point);
    const n = a[1];
    if (a.every((b) => b === 0) || a[0] & 1 || n > this.embedCapacity || a.subarray(2 + n).some((b) => b !== 0)) {
      throw new Error(`${this.name}: element is not an embedding`);
    }
    return a.slice(2, 2 + n);
  }
}

/** The OS CSPRNG (Web Crypto in the browser, globalThis.crypto in node). */
export function systemRng(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

const GROUP_FACTORIES = {
  secp256k1: () => new WeierstrassGroup('secp256k1', secp256k1, 30),
  'P-256': () => new WeierstrassGroup('P-256', p256, 30),
  ristretto255: () => new RistrettoGroup(),
};
const GROUP_CACHE = new Map();

/** Group names the browser can encrypt for. */
export const GROUPS = Object.freeze(Object.keys(GROUP_FACTORIES));

/** The group called `name` (one of GROUPS). */
export function group(name) {
  if (!GROUP_CACHE.has(name)) {
    const make = GROUP_FACTORIES[name];
    if (!make) throw new Error(`unknown group ${JSON.stringify(name)}; the browser knows ${GROUPS.join(', ')}`);
    GROUP_CACHE.set(name, make());
  }
  return GROUP_CACHE.get(name);
}

// --- ballot payloads (crypto/ballot.py, item 1) ----------------------------------------------------
export const KIND_CHOICE = 0x01;
export const KIND_RANKING = 0x02;
export const KIND_WRITE_IN = 0x03;

function checkIndex(value, where) {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new Error(`encodeChoice: ${where} must be an integer in [0, 65535]`);
  }
  return value;
}

/** Payload of a single choice (number), a ranking (array of distinct numbers) or a write-in (string). */
export function encodeChoice(choice) {
  if (typeof choice === 'string') {
    if (!choice) throw new Error('encodeChoice: a write-in must not be empty');
    return concatBytes(Uint8Array.of(KIND_WRITE_IN), textBytes(choice));
  }
  if (typeof choice === 'number') {
    return concatBytes(Uint8Array.of(KIND_CHOICE), encodeUint(checkIndex(choice, 'choice'), 2));
  }
  if (Array.isArray(choice)) {
    const ranking = choice.map((v, i) => checkIndex(v, `ranking[${i}]`));
    if (!ranking.length) throw new Error('encodeChoice: a ranking must hold at least one index');
    if (new Set(ranking).size !== ranking.length) throw new Error('encodeChoice: a ranking must not repeat an index');
    return concatBytes(Uint8Array.of(KIND_RANKING), ...ranking.map((i) => encodeUint(i, 2)));
  }
  throw new Error('encodeChoice: choice must be a number, an array of numbers or a string');
}

/** Inverse of encodeChoice: a number, an array of numbers or a string; throws otherwise. */
export function decodeChoice(payload) {
  if (!payload.length) throw new Error('ballot payload: empty');
  const kind = payload[0];
  const body = payload.subarray(1);
  if (kind === KIND_CHOICE) {
    if (body.length !== 2) throw new Error(`ballot payload: a choice has 2 index bytes, got ${body.length}`);
    return Number(bytesToInt(body));
  }
  if (kind === KIND_RANKING) {
    if (!body.length || body.length % 2) throw new Error('ballot payload: bad ranking length');
    const ranking = [];
    for (let i = 0; i < body.length; i += 2) ranking.push(Number(bytesToInt(body.subarray(i, i + 2))));
    if (new Set(ranking).size !== ranking.length) throw new Error('ballot payload: the ranking repeats an index');
    return ranking;
  }
  if (kind === KIND_WRITE_IN) {
    if (!body.length) throw new Error('ballot payload: empty write-in');
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  }
  throw new Error(`ballot payload: unknown kind byte 0x${kind.toString(16).padStart(2, '0')}`);
}

// --- payload <-> elements (crypto/ballot.py, item 2) -----------------------------------------------
/** Bytes of payload a width-w ballot carries. */
export function ballotCapacity(grp, width) {
  if (!(width >= 1)) throw new Error('ballotCapacity: width must be at least 1');
  return width * grp.embedCapacity;
}

/** The `width` elements carrying `payload`: chunk k is payload[k·c, (k+1)·c), embedded. */
export function encodeBallot(grp, payload, width) {
  const capacity = ballotCapacity(grp, width);
  if (payload.length > capacity) {
    throw new Error(`encodeBallot: payload of ${payload.length} bytes exceeds the capacity ${capacity} of a width-${width} ballot in ${grp.name}`);
  }
  const c = grp.embedCapacity;
  const out = [];
  for (let k = 0; k < width; k++) out.push(grp.embed(payload.subarray(Math.min(k * c, payload.length), Math.min((k + 1) * c, payload.length))));
  return out;
}

/** Inverse of encodeBallot, accepting only the canonical cut. */
export function decodeBallot(grp, elements) {
  if (!elements.length) throw new Error('ballot: no elements');
  const chunks = elements.map((e, k) => {
    try {
      return grp.extract(e);
    } catch (err) {
      throw new Error(`ballot element ${k}: ${err.message}`);
    }
  });
  let shortSeen = false;
  chunks.forEach((chunk, k) => {
    if (shortSeen && chunk.length) throw new Error(`ballot element ${k}: data after a short element (non-canonical)`);
    if (chunk.length < grp.embedCapacity) shortSeen = true;
  });
  return concatBytes(...chunks);
}

// --- ElGamal (crypto/elgamal.py) -------------------------------------------------------------------
/** Deterministic encryption: alpha_k = r_k·g, beta_k = r_k·y + m_k (every r_k non-zero). */
export function encryptWith(grp, y, messages, randomness) {
  if (!messages.length) throw new Error('encryptWith: messages must hold at least one element');
  if (randomness.length !== messages.length) throw new Error('encryptWith: one randomness value per position');
  const rs = randomness.map((r) => grp.reduce(r));
  rs.forEach((r, k) => {
    if (r === 0n) throw new Error(`encryptWith: randomness[${k}] is 0 mod q (would reveal the message)`);
  });
  return Object.freeze({
    alpha: Object.freeze(rs.map((r) => grp.baseMul(r))),
    beta: Object.freeze(rs.map((r, k) => grp.add(grp.mul(y, r), messages[k]))),
  });
}

/** alpha_1..alpha_w || beta_1..beta_w, canonical encodings. */
export function encodeCiphertext(grp, ct) {
  return concatBytes(...ct.alpha.map((a) => grp.encode(a)), ...ct.beta.map((b) => grp.encode(b)));
}

/** Decode and validate one width-w ciphertext (alpha may not be the identity, beta may). */
export function decodeCiphertext(grp, bytes, width) {
  const size = grp.elementSize;
  if (bytes.length !== 2 * width * size) throw new Error(`ciphertext: expected ${2 * width * size} bytes (width ${width}), got ${bytes.length}`);
  const alpha = [];
  const beta = [];
  for (let k = 0; k < width; k++) {
    alpha.push(grp.decode(bytes.subarray(k * size, (k + 1) * size), false));
    beta.push(grp.decode(bytes.subarray((width + k) * size, (width + k + 1) * size), true));
  }
  return Object.freeze({ alpha: Object.freeze(alpha), beta: Object.freeze(beta) });
}

/** The plaintext row m_k = beta_k − r_k·y, from the encryption randomness (the Benaloh audit). */
export function decryptWithRandomness(grp, y, ct, randomness) {
  return ct.beta.map((b, k) => grp.sub(b, grp.mul(y, randomness[k])));
}

// --- the ballot proof (crypto/ballot.py, item 3) ---------------------------------------------------
export const BALLOT_POK_DST = 'ballot-pok';

function ballotChallenge(grp, y, ct, commitments, electionId, voterId) {
  return hashToScalar(grp, BALLOT_POK_DST, [
    textBytes(electionId),
    textBytes(voterId),
    grp.encode(y),
    encodeCiphertext(grp, ct),
    concatBytes(...commitments.map((A) => grp.encode(A))),
  ]);
}

/** Schnorr proof (c, z_1..z_w) of the r_k with alpha_k = r_k·g, with the given nonces a_k. */
export function proveBallotWith(grp, y, ct, randomness, nonces, electionId, voterId) {
  const w = ct.alpha.length;
  if (randomness.length !== w || nonces.length !== w) throw new Error(`proveBallot: width ${w} needs ${w} randomness values and nonces`);
  const rs = randomness.map((r) => grp.reduce(r));
  rs.forEach((r, k) => {
    if (!grp.equals(grp.baseMul(r), ct.alpha[k])) throw new Error('proveBallot: randomness does not match the ciphertext');
  });
  const a = nonces.map((n) => grp.reduce(n));
  if (a.some((ak) => ak === 0n)) throw new Error('proveBallot: nonces must be non-zero mod q');
  const c = ballotChallenge(grp, y, ct, a.map((ak) => grp.baseMul(ak)), electionId, voterId);
  return Object.freeze({ c, z: Object.freeze(a.map((ak, k) => (ak + c * rs[k]) % grp.order)) });
}

/** Throws unless the proof holds: A_k = z_k·g − c·alpha_k and the challenge recomputes. */
export function verifyBallot(grp, y, ct, proof, electionId, voterId) {
  const w = ct.alpha.length;
  if (y.is0()) throw new Error('ballot proof: the public key is the identity');
  ct.alpha.forEach((a, k) => {
    if (a.is0()) throw new Error(`ballot proof: ciphertext alpha[${k}] is the identity`);
  });
  if (proof.z.length !== w) throw new Error(`ballot proof: ${proof.z.length} responses for a width-${w} ciphertext`);
  const commitments = proof.z.map((zk, k) => grp.sub(grp.baseMul(zk), grp.mul(ct.alpha[k], proof.c)));
  if (ballotChallenge(grp, y, ct, commitments, electionId, voterId) !== proof.c) {
    throw new Error('ballot proof: challenge mismatch');
  }
}

/** c || z_1 || ... || z_w, each scalarSize bytes big-endian. */
export function encodeBallotProof(grp, proof) {
  return concatBytes(grp.encodeScalar(proof.c), ...proof.z.map((zk) => grp.encodeScalar(zk)));
}

/** Inverse of encodeBallotProof; rejects a wrong length or a scalar >= q. */
export function decodeBallotProof(grp, bytes, width) {
  const size = grp.scalarSize;
  if (bytes.length !== (width + 1) * size) throw new Error(`ballot proof: expected ${(width + 1) * size} bytes (width ${width}), got ${bytes.length}`);
  const c = grp.decodeScalar(bytes.subarray(0, size), 'ballot proof c');
  const z = [];
  for (let k = 0; k < width; k++) z.push(grp.decodeScalar(bytes.subarray((k + 1) * size, (k + 2) * size), `ballot proof z[${k}]`));
  return Object.freeze({ c, z: Object.freeze(z) });
}

// --- the booth: make, audit ------------------------------------------------------------------------
/**
 * Encrypt `choice` for the election and prove it. `params`: {group, publicKey (hex), width,
 * electionId, voterId}. Returns the wire form ({ciphertext, proof, width} in hex) and the secrets
 * an audit reveals ({randomness, nonces} as decimal strings). `fixed` pins r and a for tests.
 */
export function makeBallot(params, choice, { rng = systemRng, fixed = null } = {}) {
  const grp = group(params.group);
  const y = grp.decode(fromHex(params.publicKey), false);
  const width = params.width;
  const messages = encodeBallot(grp, encodeChoice(choice), width);
  const r = fixed ? fixed.randomness.map(BigInt) : messages.map(() => grp.randomScalar(rng));
  const a = fixed ? fixed.nonces.map(BigInt) : messages.map(() => grp.randomScalar(rng));
  const ct = encryptWith(grp, y, messages, r);
  const proof = proveBallotWith(grp, y, ct, r, a, params.electionId, params.voterId);
  return Object.freeze({
    wire: Object.freeze({
      ciphertext: toHex(encodeCiphertext(grp, ct)),
      proof: toHex(encodeBallotProof(grp, proof)),
      width,
    }),
    randomness: Object.freeze(r.map(String)),
    nonces: Object.freeze(a.map(String)),
  });
}

/**
 * The Benaloh challenge, checked independently of how the ballot was made: from the revealed
 * randomness, every alpha_k must be r_k·g; beta_k − r_k·y must be a canonical encoding of a choice;
 * re-encrypting that choice with the same r must give the same bytes; the proof must verify.
 * Returns {choice, checks: [{what, ok}]}; never throws on a bad ballot (it reports it).
 */
export function auditBallot(params, wire, randomness) {
  const checks = [];
  const grp = group(params.group);
  const y = grp.decode(fromHex(params.publicKey), false);
  let choice = null;
  try {
    const ct = decodeCiphertext(grp, fromHex(wire.ciphertext), wire.width);
    const r = randomness.map(BigInt);
    checks.push({ what: 'ciphertext decodes (valid group elements)', ok: true });
    const alphaOk = r.length === wire.width && r.every((rk, k) => grp.equals(grp.baseMul(rk), ct.alpha[k]));
    checks.push({ what: 'alpha_k = r_k·g for every position', ok: alphaOk });
    const payload = decodeBallot(grp, decryptWithRandomness(grp, y, ct, r));
    choice = decodeChoice(payload);
    checks.push({ what: 'beta_k − r_k·y decodes to a choice', ok: true });
    const again = encryptWith(grp, y, encodeBallot(grp, encodeChoice(choice), wire.width), r);
    checks.push({ what: 're-encrypting that choice gives the same ciphertext', ok: equalBytes(encodeCiphertext(grp, again), fromHex(wire.ciphertext)) });
    let proofOk = true;
    try {
      verifyBallot(grp, y, ct, decodeBallotProof(grp, fromHex(wire.proof), wire.width), params.electionId, params.voterId);
    } catch (e) {
      proofOk = false;
    }
    checks.push({ what: 'the proof of knowledge verifies for this election and credential', ok: proofOk });
  } catch (e) {
    checks.push({ what: `audit failed: ${e.message}`, ok: false });
  }
  return { choice, checks, ok: checks.every((c) => c.ok) };
}

// --- voter credentials and ballot signatures (crypto/credentials.py, docs/trust.md) ---------------
/*
 * A private credential is a 32-byte Ed25519 seed (RFC 8032), printed as RFC 4648 base32 of
 * seed || 3 check bytes (hashBytes('credential-check', [seed], 3)) in groups of 4 joined by '-'.
 * The voter id is the hex of hashBytes('voter-id', [publicKey], 16). A ballot is signed over
 * BALLOT_SIGNATURE_DOMAIN || lp(fingerprint) || lp(row) || lp(proof); RFC 8032 signatures are
 * deterministic, so the browser and Python produce the same bytes. The credential never leaves
 * the page: nothing here stores or sends it.
 */
export const BALLOT_SIGNATURE_DOMAIN = textBytes('mixvote/ballot-signature/v1\u0000');
export const ED25519_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const CREDENTIAL_CHARS = 56; // base32 of 35 bytes, no padding

function base32Encode(bytes) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(text) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error('credential: not base32 (letters A-Z and digits 2-7)');
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function seedBytes(privateCredentialHex) {
  const seed = fromHex(privateCredentialHex);
  if (seed.length !== 32) throw new Error('credential: a private credential is 32 bytes (64 hex digits)');
  return seed;
}

/** The printed form of a private credential (hex seed) — Python's format_credential. */
export function formatCredential(privateCredentialHex) {
  const seed = seedBytes(privateCredentialHex);
  const text = base32Encode(concatBytes(seed, hashBytes('credential-check', [seed], 3)));
  return text.match(/.{1,4}/g).join('-');
}

/** The hex seed of a printed credential; ignores case, spaces and hyphens; throws on a typo. */
export function parseCredential(text) {
  if (typeof text !== 'string') throw new Error('credential: not text');
  const compact = text.replace(/[\s-]/g, '').toUpperCase();
  if (compact.length !== CREDENTIAL_CHARS) {
    throw new Error(`credential: expected ${CREDENTIAL_CHARS} characters, got ${compact.length}`);
  }
  const raw = base32Decode(compact);
  const seed = raw.subarray(0, 32);
  if (!equalBytes(hashBytes('credential-check', [seed], 3), raw.subarray(32))) {
    throw new Error('credential: check value does not match (mistyped credential?)');
  }
  return toHex(seed);
}

/** The voter id (32 hex digits) of a public credential (bytes or hex). */
export function voterIdOf(publicKey) {
  const pub = typeof publicKey === 'string' ? fromHex(publicKey) : publicKey;
  if (pub.length !== 32) throw new Error('voterId: a public credential is 32 bytes');
  return toHex(hashBytes('voter-id', [pub], 16));
}

/** {public, voterId} of a private credential given as hex (RFC 8032 key derivation). */
export function credentialFromPrivate(privateCredentialHex) {
  const pub = ed25519.getPublicKey(seedBytes(privateCredentialHex));
  return Object.freeze({ public: toHex(pub), voterId: voterIdOf(pub) });
}

function asBytes(value, what) {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return fromHex(value);
  throw new Error(`${what}: expected bytes or hex`);
}

/** The exact bytes a voter signs for a ballot (Python's ballot_signing_input). */
export function ballotSigningInput(fingerprint, rowBytes, proofBytes) {
  const fp = asBytes(fingerprint, 'fingerprint');
  if (fp.length !== 32) throw new Error('ballot signature: the fingerprint is 32 bytes');
  return concatBytes(BALLOT_SIGNATURE_DOMAIN, lp(fp), lp(asBytes(rowBytes, 'row')), lp(asBytes(proofBytes, 'proof')));
}

/** The voter's Ed25519 signature (64 bytes) over the fingerprint, the ciphertext row and the proof. */
export function signBallot(privateCredentialHex, fingerprint, rowBytes, proofBytes) {
  return ed25519.sign(ballotSigningInput(fingerprint, rowBytes, proofBytes), seedBytes(privateCredentialHex));
}

/**
 * Strict verification, as Python's verify_signature_strict: canonical encodings (RFC 8032, not
 * ZIP-215), S < ℓ, a public key of prime order (neither small nor mixed order) and an R in the
 * prime-order subgroup, so that noble's cofactored equation accepts exactly what the cofactorless
 * one does. Throws with a reason; returns nothing.
 */
export function verifySignatureStrict(publicKey, message, signature) {
  const pub = asBytes(publicKey, 'public key');
  const sig = asBytes(signature, 'signature');
  if (pub.length !== 32) throw new Error('signature: the public key is 32 bytes');
  if (sig.length !== 64) throw new Error('signature: a signature is 64 bytes');
  let A;
  let R;
  try {
    A = ed25519.Point.fromBytes(pub, false);
    R = ed25519.Point.fromBytes(sig.subarray(0, 32), false);
  } catch (e) {
    throw new Error('signature: non-canonical or off-curve point');
  }
  if (A.isSmallOrder() || !A.isTorsionFree()) throw new Error('signature: the public key is not of prime order');
  if (!R.isTorsionFree()) throw new Error('signature: R is not in the prime-order subgroup');
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  if (s >= ED25519_ORDER) throw new Error('signature: S is not below the group order');
  if (!ed25519.verify(sig, message, pub, { zip215: false })) throw new Error('signature: Ed25519 signature does not verify');
}

/** Throws unless `signature` is the voter's valid signature on this ballot. */
export function verifyBallotSignature(publicKey, fingerprint, rowBytes, proofBytes, signature) {
  verifySignatureStrict(publicKey, ballotSigningInput(fingerprint, rowBytes, proofBytes), signature);
}

/** The fingerprint for display: hex in groups of 4 (groups = 8 for the short, 128-bit form). */
export function formatFingerprint(fingerprint, groups = 16) {
  const fp = asBytes(fingerprint, 'fingerprint');
  if (fp.length !== 32) throw new Error('fingerprint: 32 bytes');
  if (!(groups >= 8 && groups <= 16)) throw new Error('formatFingerprint: 8 to 16 groups');
  return toHex(fp).slice(0, 4 * groups).match(/.{4}/g).join(' ');
}
