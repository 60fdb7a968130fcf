/**
 * Homomorphic ballots in the browser: exponential ElGamal per choice, a disjunctive Chaum–Pedersen
 * proof (Cramer–Damgård–Schoenmakers, CRYPTO '94) that each choice encrypts 0 or 1, and one on the
 * row's sum that the number of selections lies in [min, max].
 *
 * Mirrors, byte for byte, the Python reference crypto/homomorphic/ (normative text:
 * docs/homomorphic.md); tests/vectors/test_js_homomorphic.py holds the two identical on shared
 * vectors. Group arithmetic, encodings, the Fiat–Shamir hash and ElGamal come from
 * ./mixvote-crypto.js (on @noble/curves and @noble/hashes from npm).
 *
 * Pure functions only: randomised functions take `rng` (n -> Uint8Array of n random bytes),
 * defaulting to crypto.getRandomValues; `fixed` randomness pins them for tests.
 */
import {
  concatBytes,
  encodeCiphertext,
  encodeUint,
  encryptWith,
  fromHex,
  group,
  hashToScalar,
  systemRng,
  toHex,
} from './mixvote-crypto.js';

export const CHOICE_DST = 'homomorphic-choice-proof';
export const SELECTION_DST = 'homomorphic-selection-proof';
export const MAX_CHOICES = 0xffff;

// --- the selection rule ----------------------------------------------------------------------------
/** {nChoices, minSelections, maxSelections}: 1 <= n <= 65535 and 0 <= min <= max <= n. */
export function selectionRule(nChoices, minSelections, maxSelections) {
  for (const [name, v] of [['nChoices', nChoices], ['minSelections', minSelections], ['maxSelections', maxSelections]]) {
    if (!Number.isInteger(v)) throw new Error(`selectionRule: ${name} must be an integer`);
  }
  if (nChoices < 1 || nChoices > MAX_CHOICES) throw new Error(`selectionRule: nChoices = ${nChoices} is not in 1..65535`);
  if (!(minSelections >= 0 && minSelections <= maxSelections && maxSelections <= nChoices)) {
    throw new Error(`selectionRule: need 0 <= min (${minSelections}) <= max (${maxSelections}) <= n (${nChoices})`);
  }
  return Object.freeze({ nChoices, minSelections, maxSelections });
}

function selectionBranches(rule) {
  return rule.maxSelections - rule.minSelections + 1;
}

// --- the disjunctive proof (crypto/homomorphic/disjunctive.py) -------------------------------------
function statementsOf(grp, rule, ct) {
  const out = ct.alpha.map((alpha, k) => ({ dst: CHOICE_DST, index: k, lo: 0, hi: 1, alpha, beta: ct.beta[k] }));
  const sum = (points) => points.reduce((acc, p) => grp.add(acc, p), grp.identity);
  out.push({
    dst: SELECTION_DST,
    index: rule.nChoices,
    lo: rule.minSelections,
    hi: rule.maxSelections,
    alpha: sum(ct.alpha),
    beta: sum(ct.beta),
  });
  return out;
}

/** k·P for a public scalar (variable time: verification only). */
function vartimeMul(grp, point, k) {
  const s = grp.reduce(k);
  return s === 0n || point.is0() ? grp.identity : point.multiplyUnsafe(s);
}

/** The verifier's A_j = z_j·g − c_j·alpha, B_j = z_j·y − c_j·(beta − (lo + j)·g), scalars[p][j] = [c_j, z_j]. */
function vartimeCommitments(grp, y, statements, scalars) {
  const shift = new Map();
  return statements.map((s, p) =>
    scalars[p].map(([c, z], j) => {
      const v = s.lo + j;
      if (!shift.has(v)) shift.set(v, grp.baseMul(BigInt(v)));
      const betaJ = grp.sub(s.beta, shift.get(v));
      return [grp.sub(grp.baseMul(z), vartimeMul(grp, s.alpha, c)), grp.sub(grp.mul(y, z), vartimeMul(grp, betaJ, c))];
    }),
  );
}

/**
 * The prover's commitments: the same points as vartimeCommitments for the nonces [c'_j, z'_j],
 * computed from the witness (r, v) with fixed bases only. As alpha = r·g and
 * beta − v_j·g = r·y + (v − v_j)·g: A_j = w_j·g and B_j = w_j·y − e_j·g, with w_j = z'_j − c'_j·r and
 * e_j = c'_j·(v − v_j). e_j·g is computed as (e_j + 1)·g − g, so that the real branch (e = 0)
 * takes no shortcut: every branch costs the same constant-time multiplications.
 */
function proverCommitments(grp, y, statements, witnesses, nonces) {
  return statements.map((s, p) => {
    const [r, v] = witnesses[p];
    return nonces[p].map(([c, z], j) => {
      const w = grp.reduce(z - c * r);
      const eg = grp.sub(grp.baseMul(grp.reduce(c * BigInt(v - s.lo - j) + 1n)), grp.generator);
      return [grp.baseMul(w), grp.sub(grp.mul(y, w), eg)];
    });
  });
}

function challengeOf(grp, s, context, yBytes, rowBytes, commits) {
  return hashToScalar(grp, s.dst, [
    context,
    yBytes,
    rowBytes,
    encodeUint(s.index, 4),
    concatBytes(encodeUint(s.lo, 4), encodeUint(s.hi, 4)),
    concatBytes(grp.encode(s.alpha), grp.encode(s.beta)),
    concatBytes(...commits.flat().map((e) => grp.encode(e))),
  ]);
}

function proveWith(grp, y, statements, witnesses, nonces, context, yBytes, rowBytes) {
  const q = grp.order;
  const reduced = nonces.map((pairs) => pairs.map(([c, z]) => [grp.reduce(c), grp.reduce(z)]));
  const all = proverCommitments(grp, y, statements, witnesses, reduced);
  return statements.map((s, p) => {
    const [r, v] = witnesses[p];
    const c = challengeOf(grp, s, context, yBytes, rowBytes, all[p]);
    const delta = grp.reduce(c - reduced[p].reduce((acc, [cj]) => acc + cj, 0n));
    const real = v - s.lo;
    return Object.freeze(
      reduced[p].map(([cj, zj], j) => {
        const bit = j === real ? 1n : 0n;
        return Object.freeze({ c: (cj + bit * delta) % q, z: (zj + bit * delta * r) % q });
      }),
    );
  });
}

function verifyProofs(grp, y, statements, proofs, names, context, yBytes, rowBytes) {
  const q = grp.order;
  statements.forEach((s, p) => {
    const branches = s.hi - s.lo + 1;
    if (proofs[p].length !== branches) throw new Error(`${names[p]}: ${proofs[p].length} branches, the statement has ${branches}`);
    proofs[p].forEach((b, j) => {
      if (!(b.c >= 0n && b.c < q && b.z >= 0n && b.z < q)) throw new Error(`${names[p]}: branch ${j}: c or z is not a canonical scalar`);
    });
  });
  const all = vartimeCommitments(grp, y, statements, proofs.map((pr) => pr.map((b) => [b.c, b.z])));
  statements.forEach((s, p) => {
    const c = challengeOf(grp, s, context, yBytes, rowBytes, all[p]);
    if (proofs[p].reduce((acc, b) => acc + b.c, 0n) % q !== c) {
      throw new Error(`${names[p]}: the branch challenges do not sum to the Fiat–Shamir challenge`);
    }
  });
}

function proofNames(rule) {
  const names = [];
  for (let k = 0; k < rule.nChoices; k++) names.push(`choice ${k}: 0/1 proof`);
  names.push(`selection-count proof (${rule.minSelections}..${rule.maxSelections} selections)`);
  return names;
}

// --- ballots (crypto/homomorphic/ballot.py) --------------------------------------------------------
/**
 * Fresh randomness in the reference order: r_0..r_{n−1}; per choice, per branch j = 0, 1: c', z';
 * per branch of the selection proof: c', z'.
 */
export function drawRandomness(grp, rule, rng = systemRng) {
  const r = [];
  for (let k = 0; k < rule.nChoices; k++) r.push(grp.randomScalar(rng));
  const pair = () => [grp.randomScalar(rng), grp.randomScalar(rng)];
  const choiceNonces = [];
  for (let k = 0; k < rule.nChoices; k++) choiceNonces.push([pair(), pair()]);
  const selectionNonces = [];
  for (let j = 0; j < selectionBranches(rule); j++) selectionNonces.push(pair());
  return { r, choiceNonces, selectionNonces };
}

function checkContext(context, where) {
  if (!(context instanceof Uint8Array)) throw new Error(`${where}: context must be a Uint8Array`);
  return context;
}

/**
 * Deterministic ballot: encrypt `selections` (0/1 per choice) under the point `y` and prove it,
 * bound to `context`. `randomness` = {r, choiceNonces, selectionNonces} (bigints or decimal strings).
 * Returns {ciphertext: {alpha, beta}, choiceProofs: [[{c, z}, {c, z}]], selectionProof: [{c, z}]}.
 */
export function encryptHomomorphicBallotWith(grp, y, selections, rule, context, randomness) {
  checkContext(context, 'encryptHomomorphicBallot');
  if (selections.length !== rule.nChoices) throw new Error(`encryptHomomorphicBallot: ${selections.length} selections for ${rule.nChoices} choices`);
  const bits = selections.map((s, k) => {
    if (s !== 0 && s !== 1 && s !== true && s !== false) throw new Error(`encryptHomomorphicBallot: selections[${k}] must be 0 or 1`);
    return s ? 1 : 0;
  });
  const count = bits.reduce((a, b) => a + b, 0);
  if (count < rule.minSelections || count > rule.maxSelections) {
    throw new Error(`encryptHomomorphicBallot: ${count} choices selected, the rule allows ${rule.minSelections}..${rule.maxSelections}`);
  }
  const r = randomness.r.map((v) => grp.reduce(BigInt(v)));
  const toPairs = (pairs) => pairs.map(([c, z]) => [BigInt(c), BigInt(z)]);
  const choiceNonces = randomness.choiceNonces.map(toPairs);
  const selectionNonces = toPairs(randomness.selectionNonces);
  if (r.length !== rule.nChoices || choiceNonces.length !== rule.nChoices || choiceNonces.some((p) => p.length !== 2)) {
    throw new Error(`encryptHomomorphicBallot: randomness is not shaped for ${rule.nChoices} choices`);
  }
  if (selectionNonces.length !== selectionBranches(rule)) {
    throw new Error(`encryptHomomorphicBallot: the selection proof needs ${selectionBranches(rule)} nonce pairs`);
  }
  const options = [grp.identity, grp.generator];
  const ct = encryptWith(grp, y, bits.map((b) => options[b]), r);
  const witnesses = bits.map((b, k) => [r[k], b]);
  witnesses.push([grp.reduce(r.reduce((a, v) => a + v, 0n)), count]);
  const proofs = proveWith(
    grp,
    y,
    statementsOf(grp, rule, ct),
    witnesses,
    [...choiceNonces, selectionNonces],
    context,
    grp.encode(y),
    encodeCiphertext(grp, ct),
  );
  return Object.freeze({
    ciphertext: ct,
    choiceProofs: Object.freeze(proofs.slice(0, -1)),
    selectionProof: proofs[proofs.length - 1],
  });
}

/** Throws unless the ballot verifies; the message names the choice and the proof that failed. */
export function verifyHomomorphicBallot(grp, y, ballot, rule, context) {
  checkContext(context, 'verifyHomomorphicBallot');
  const ct = ballot.ciphertext;
  const n = rule.nChoices;
  if (ct.alpha.length !== n || ct.beta.length !== n) throw new Error(`homomorphic ballot: ${ct.alpha.length} ciphertexts for ${n} choices`);
  if (ballot.choiceProofs.length !== n) throw new Error(`homomorphic ballot: ${ballot.choiceProofs.length} 0/1 proofs for ${n}`);
  if (y.is0()) throw new Error('homomorphic ballot: the public key is the identity');
  ct.alpha.forEach((a, k) => {
    if (a.is0()) throw new Error(`choice ${k}: alpha is the identity`);
  });
  verifyProofs(
    grp,
    y,
    statementsOf(grp, rule, ct),
    [...ballot.choiceProofs, ballot.selectionProof],
    proofNames(rule),
    context,
    grp.encode(y),
    encodeCiphertext(grp, ct),
  );
}

// --- encodings -------------------------------------------------------------------------------------
/** Bytes of an encoded ballot: 2n·elementSize + (4n + 2L)·scalarSize. */
export function homomorphicBallotSize(grp, rule) {
  return 2 * rule.nChoices * grp.elementSize + (4 * rule.nChoices + 2 * selectionBranches(rule)) * grp.scalarSize;
}

function encodeProof(grp, proof) {
  return concatBytes(...proof.flatMap((b) => [grp.encodeScalar(b.c), grp.encodeScalar(b.z)]));
}

/** alpha_0..alpha_{n−1} || beta_0..beta_{n−1} || each 0/1 proof (c0 z0 c1 z1) || the selection proof. */
export function encodeHomomorphicBallot(grp, ballot) {
  return concatBytes(
    encodeCiphertext(grp, ballot.ciphertext),
    ...ballot.choiceProofs.map((p) => encodeProof(grp, p)),
    encodeProof(grp, ballot.selectionProof),
  );
}

function decodeProof(grp, bytes, branches, name) {
  const s = grp.scalarSize;
  const out = [];
  const scalar = (at, what) => {
    try {
      return grp.decodeScalar(bytes.subarray(at * s, (at + 1) * s), what);
    } catch (e) {
      throw new Error(`${name}: branch ${at >> 1}: ${e.message}`);
    }
  };
  for (let j = 0; j < branches; j++) out.push(Object.freeze({ c: scalar(2 * j, 'c'), z: scalar(2 * j + 1, 'z') }));
  return Object.freeze(out);
}

/** Strict inverse of encodeHomomorphicBallot: exact length, validated elements, canonical scalars. */
export function decodeHomomorphicBallot(grp, bytes, rule) {
  const expected = homomorphicBallotSize(grp, rule);
  if (!(bytes instanceof Uint8Array) || bytes.length !== expected) {
    throw new Error(`homomorphic ballot: expected ${expected} bytes, got ${bytes && bytes.length}`);
  }
  const n = rule.nChoices;
  const size = grp.elementSize;
  const element = (i, name, allowIdentity) => {
    try {
      return grp.decode(bytes.subarray(i * size, (i + 1) * size), allowIdentity);
    } catch (e) {
      throw new Error(`${name}: ${e.message}`);
    }
  };
  const alpha = [];
  const beta = [];
  for (let k = 0; k < n; k++) alpha.push(element(k, `choice ${k}: alpha`, false));
  for (let k = 0; k < n; k++) beta.push(element(n + k, `choice ${k}: beta`, true));
  const ct = Object.freeze({ alpha: Object.freeze(alpha), beta: Object.freeze(beta) });
  let pos = 2 * n * size;
  const step = 4 * grp.scalarSize;
  const choiceProofs = [];
  for (let k = 0; k < n; k++) {
    choiceProofs.push(decodeProof(grp, bytes.subarray(pos, pos + step), 2, `choice ${k}: 0/1 proof`));
    pos += step;
  }
  const selectionProof = decodeProof(grp, bytes.subarray(pos), selectionBranches(rule), 'selection-count proof');
  return Object.freeze({ ciphertext: ct, choiceProofs: Object.freeze(choiceProofs), selectionProof });
}

function proofJson(grp, proof) {
  return proof.map((b) => ({ c: toHex(grp.encodeScalar(b.c)), z: toHex(grp.encodeScalar(b.z)) }));
}

/** The JSON form of crypto/homomorphic/ballot.py ballot_to_json (lower-case hex). */
export function homomorphicBallotToJson(grp, ballot) {
  const ct = ballot.ciphertext;
  return {
    ciphertexts: ct.alpha.map((a, k) => ({ alpha: toHex(grp.encode(a)), beta: toHex(grp.encode(ct.beta[k])) })),
    choice_proofs: ballot.choiceProofs.map((p) => proofJson(grp, p)),
    selection_proof: proofJson(grp, ballot.selectionProof),
  };
}

const KEY_CACHE = new Map();

/** The decoded public key, with a fixed-base table (it is multiplied ~3 times per choice). */
function publicKeyPoint(grp, hex) {
  const key = `${grp.name}/${hex}`;
  if (!KEY_CACHE.has(key)) {
    const y = grp.decode(fromHex(hex), false);
    y.precompute(8, false);
    KEY_CACHE.set(key, y);
  }
  return KEY_CACHE.get(key);
}

/**
 * Encrypt `selections` for the election. `params`: {group, publicKey (hex), nChoices,
 * minSelections, maxSelections, context (hex)}. Returns {ballot (hex of the encoding), json, and
 * the randomness as decimal strings (what a Benaloh audit would reveal)}. `fixed` pins the
 * randomness for tests.
 */
export function encryptHomomorphicBallot(params, selections, { rng = systemRng, fixed = null } = {}) {
  const grp = group(params.group);
  const y = publicKeyPoint(grp, params.publicKey);
  const rule = selectionRule(params.nChoices, params.minSelections, params.maxSelections);
  const randomness = fixed || drawRandomness(grp, rule, rng);
  const ballot = encryptHomomorphicBallotWith(grp, y, selections, rule, fromHex(params.context), randomness);
  const str = (pairs) => pairs.map(([c, z]) => [String(c), String(z)]);
  return Object.freeze({
    ballot: toHex(encodeHomomorphicBallot(grp, ballot)),
    json: homomorphicBallotToJson(grp, ballot),
    randomness: {
      r: randomness.r.map(String),
      choiceNonces: randomness.choiceNonces.map(str),
      selectionNonces: str(randomness.selectionNonces),
    },
  });
}

/** Decode (hex) and verify a ballot for `params` (as encryptHomomorphicBallot); throws with the reason. */
export function checkHomomorphicBallot(params, ballotHex) {
  const grp = group(params.group);
  const y = publicKeyPoint(grp, params.publicKey);
  const rule = selectionRule(params.nChoices, params.minSelections, params.maxSelections);
  const ballot = decodeHomomorphicBallot(grp, fromHex(ballotHex), rule);
  verifyHomomorphicBallot(grp, y, ballot, rule, fromHex(params.context));
}
