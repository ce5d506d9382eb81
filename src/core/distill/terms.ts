import * as tf from '@tensorflow/tfjs';

/**
 * Loss terms of several knowledge-distillation methods, as pure functions of tensors.
 *
 * Every function returns a scalar, is differentiable with respect to its student argument, keeps
 * no intermediate tensors (tf.tidy) and never reads data back to JS. Teacher arguments are treated
 * as constants, as the reference implementations do (`torch.no_grad()` / a frozen teacher): their
 * gradient is zero even when they are differentiated.
 *
 * Golden tests against the cited PyTorch reference code: test/terms-golden.test.ts, fixtures from
 * scripts/golden/make_term_fixtures.py.
 */

export type Divergence = 'forward' | 'reverse' | 'mse';

/** Identity whose gradient is zero: PyTorch's `detach()` / `torch.no_grad()` for the teacher side. */
const constant = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
  value: (inputs[0] as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

/**
 * Σ p·(log p − log q) over every element, from log-probabilities. Both are finite (log-softmax),
 * so where p underflows to 0 the term is 0·finite = 0, the 0·log 0 = 0 convention of F.kl_div.
 */
function klSum(logP: tf.Tensor, logQ: tf.Tensor): tf.Scalar {
  return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)));
}

/** klSum of each row (sum over the last axis). */
function klRows(logP: tf.Tensor, logQ: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1) as tf.Tensor1D;
}

/**
 * Rows divided by max(L2 norm, eps), F.normalize(x, dim=1). Written as x / sqrt(max(Σx², eps²)),
 * the same value, so that an all-zero row has a finite gradient (tfjs's sqrt gradient at 0 is
 * 0/0 = NaN, which max(norm, eps) alone would not keep out).
 */
function l2NormalizeLast(x: tf.Tensor, eps: number): tf.Tensor {
  const sumSq = tf.sum(tf.square(x), -1, true);
  return tf.div(x, tf.sqrt(tf.maximum(sumSq, eps * eps)));
}

/** |x| whose gradient at 0 is sign(0) = 0, as torch's abs (tfjs's abs gradient at 0 is −1). */
function absZeroGrad(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sign(x));
}

function sameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: student shape [${a.shape.join(', ')}] and teacher shape [${b.shape.join(', ')}] differ`);
  }
}

/**
 * The batch mean of per-row losses; with `rowWeights` (1 = labeled, 0 = unlabeled: see
 * labeledRows.ts) the mean over the weighted rows, 0 when every weight is 0.
 */
function rowMean(rows: tf.Tensor1D, rowWeights?: tf.Tensor1D): tf.Scalar {
  if (!rowWeights) return tf.div(tf.sum(rows), rows.shape[0]) as tf.Scalar;
  return tf.div(tf.sum(tf.mul(rows, rowWeights)), tf.maximum(tf.sum(rowWeights), 1)) as tf.Scalar;
}

/**
 * Mean cross-entropy of logits against integer labels (PyTorch's F.cross_entropy); with
 * `rowWeights`, over the rows of weight 1 only (F.cross_entropy with ignore_index).
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, rowWeights?: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(labels, logits.shape[1]);
    return rowMean(tf.neg(tf.sum(tf.mul(oneHot, logProbs), 1)) as tf.Tensor1D, rowWeights);
  });
}

/**
 * forward: T² · KL(p_t || p_s); reverse: T² · KL(p_s || p_t); p = softmax(logits / T); batch mean
 * (sum over classes, mean over rows).
 * PyTorch: F.kl_div(F.log_softmax(s/T,1), F.softmax(t/T,1), reduction='batchmean')*T*T  (forward)
 *          F.kl_div(F.log_softmax(t/T,1), F.log_softmax(s/T,1), reduction='batchmean', log_target=True)*T*T (reverse)
 * mse: the squared difference of the logits themselves (Tang et al. 2019), no temperature, mean
 * over all elements: nn.MSELoss()(s, t).
 */
export function kdDivergence(
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  temperature: number,
  divergence: Divergence,
): tf.Scalar {
  sameShape(student, teacher, 'kdDivergence');
  if (divergence === 'mse')
    return tf.tidy(() => tf.mean(tf.squaredDifference(student, constant(teacher))) as tf.Scalar);
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(student, temperature));
    const logP = tf.logSoftmax(tf.div(constant(teacher), temperature));
    const kl = divergence === 'forward' ? klSum(logP, logQ) : klSum(logQ, logP);
    return tf.mul(kl, (temperature * temperature) / student.shape[0]) as tf.Scalar;
  });
}

/**
 * PyTorch F.cross_entropy(logits, labels, label_smoothing=epsilon): the target is
 * (1 − ε)·onehot + ε/K, mean over rows. labels int32.
 */
export function labelSmoothedCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  epsilon: number,
  rowWeights?: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const logProbs = tf.logSoftmax(logits);
    const target = tf.add(tf.mul(tf.oneHot(tf.cast(labels, 'int32'), classes), 1 - epsilon), epsilon / classes);
    return rowMean(tf.neg(tf.sum(tf.mul(target, logProbs), 1)) as tf.Tensor1D, rowWeights);
  });
}

/**
 * FitNets hint. mse: F.mse_loss(s, t) (mean over all elements). cosine:
 * (1 - F.cosine_similarity(s.flatten(1), t.flatten(1), dim=1, eps=1e-8)).mean(), which in PyTorch 2
 * divides each vector by max(its norm, eps) separately. Shapes equal, any rank >= 2, any layout
 * (both distances ignore the order of the features within a sample).
 */
export function hintLoss(student: tf.Tensor, teacher: tf.Tensor, distance: 'mse' | 'cosine'): tf.Scalar {
  sameShape(student, teacher, 'hintLoss');
  if (student.rank < 2)
    throw new Error(
      `hintLoss: features need a batch axis and at least one more, got shape [${student.shape.join(', ')}]`,
    );
  return tf.tidy(() => {
    const t = constant(teacher);
    if (distance === 'mse') return tf.mean(tf.squaredDifference(student, t)) as tf.Scalar;
    const batch = student.shape[0];
    const s2 = l2NormalizeLast(tf.reshape(student, [batch, -1]), 1e-8);
    const t2 = l2NormalizeLast(tf.reshape(t, [batch, -1]), 1e-8);
    return tf.mean(tf.sub(1, tf.sum(tf.mul(s2, t2), 1))) as tf.Scalar;
  });
}

/**
 * Attention map of NHWC features (channels LAST, unlike PyTorch): F.normalize(|x|^p .mean(over
 * channels).view(N,-1)), i.e. each row divided by max(L2 norm, 1e-12). Zagoruyko & Komodakis 2017,
 * szagoruyko/attention-transfer utils.py `at` (which fixes p = 2: x.pow(2)). Rows are the H·W
 * positions in row-major order, as the reference's view of NCHW maps.
 */
export function attentionMap(features: tf.Tensor4D, p: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, height, width] = features.shape;
    const powered = p === 2 ? tf.square(features) : tf.pow(absZeroGrad(features), p);
    const map = tf.reshape(tf.mean(powered, 3), [batch, height * width]);
    return l2NormalizeLast(map, 1e-12) as tf.Tensor2D;
  });
}

/**
 * (at(s) - at(t)).pow(2).mean(), the reference `at_loss`: a mean over batch × H·W. Student and
 * teacher need the same batch, H and W; their channel counts may differ.
 */
export function attentionLoss(student: tf.Tensor4D, teacher: tf.Tensor4D, p: number): tf.Scalar {
  const [sn, sh, sw] = student.shape;
  const [tn, th, tw] = teacher.shape;
  if (student.rank !== 4 || teacher.rank !== 4 || sn !== tn || sh !== th || sw !== tw) {
    throw new Error(
      `attentionLoss: student shape [${student.shape.join(', ')}] and teacher shape [${teacher.shape.join(', ')}] ` +
        'need the same batch, height and width (NHWC; channels may differ)',
    );
  }
  return tf.tidy(
    () => tf.mean(tf.squaredDifference(attentionMap(student, p), attentionMap(constant(teacher), p))) as tf.Scalar,
  );
}

/**
 * Pairwise Euclidean distances of the rows, the reference `pdist(e, squared=False, eps=1e-12)`:
 * sqrt(clamp(|a|² + |b|² − 2a·b, min=eps)) with the diagonal set to 0 (and no gradient there).
 * The rows are centred first: distances do not change, and the cancellation in |a|² + |b|² − 2a·b
 * shrinks when the embeddings share a large offset (post-ReLU features), which float32 needs.
 */
function pdist(e: tf.Tensor2D): tf.Tensor2D {
  const n = e.shape[0];
  const c = tf.sub(e, tf.mean(e, 0, true));
  const sq = tf.sum(tf.square(c), 1);
  const prod = tf.matMul(c, c, false, true);
  const d2 = tf.maximum(tf.sub(tf.add(tf.expandDims(sq, 1), tf.expandDims(sq, 0)), tf.mul(prod, 2)), 1e-12);
  const diagonal = tf.cast(tf.eye(n), 'bool');
  return tf.where(diagonal, tf.zerosLike(d2), tf.sqrt(d2)) as tf.Tensor2D;
}

/**
 * F.smooth_l1_loss(x, y) with beta = 1 and reduction 'mean': 0.5·d² where |d| < 1, |d| − 0.5
 * elsewhere. Written as 0.5·m² + (|d| − m) with m = min(|d|, 1), the same function, because a
 * comparison op on the gradient path has no gradient in tfjs.
 */
function smoothL1(x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  const ad = absZeroGrad(tf.sub(x, y));
  const m = tf.minimum(ad, 1);
  return tf.mean(tf.add(tf.mul(tf.square(m), 0.5), tf.sub(ad, m))) as tf.Scalar;
}

function checkEmbeddings(student: tf.Tensor2D, teacher: tf.Tensor2D, what: string): void {
  if (student.rank !== 2 || teacher.rank !== 2 || student.shape[0] !== teacher.shape[0]) {
    throw new Error(
      `${what}: student shape [${student.shape.join(', ')}] and teacher shape [${teacher.shape.join(', ')}] need the same batch, as [N, D] embeddings`,
    );
  }
}

/**
 * Park et al. 2019 RKD distance term, reference lenscloth/RKD metric/loss.py `RkdDistance`:
 * pairwise distances of the batch, each side divided by the mean of its positive (off-diagonal)
 * distances, compared by smooth L1 (beta 1, mean over the N×N matrix, diagonal included).
 * Inputs [N, D] embeddings (callers flatten); the dimensions D of student and teacher may differ.
 * The teacher side is a constant. N = 1 has no pair: the result is NaN, as in the reference.
 */
export function rkdDistanceLoss(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  checkEmbeddings(student, teacher, 'rkdDistanceLoss');
  return tf.tidy(() => {
    const n = student.shape[0];
    // d[d > 0].mean(): the clamp keeps every off-diagonal distance >= 1e-6, so the positive
    // entries are exactly the N(N−1) off-diagonal ones (a count from data would need a comparison
    // op on the gradient path).
    const pairs = n * (n - 1);
    const normalised = (d: tf.Tensor2D) => tf.div(d, tf.div(tf.sum(d), pairs));
    const td = normalised(pdist(constant(teacher)));
    const sd = normalised(pdist(student));
    return smoothL1(sd, td);
  });
}

/**
 * Cosines of the angles at each anchor i between the directions to j and to k: the [N, N, N]
 * tensor bmm(n, nᵀ) of n[i, j] = normalize(e[j] − e[i]), the reference's `norm_sd` (an N×N×D
 * tensor, fine for N up to ~128).
 */
function angles(e: tf.Tensor2D): tf.Tensor3D {
  const diffs = tf.sub(tf.expandDims(e, 0), tf.expandDims(e, 1));
  const unit = l2NormalizeLast(diffs, 1e-12) as tf.Tensor3D;
  return tf.matMul(unit, unit, false, true);
}

/**
 * Park et al. 2019 RKD angle term, reference lenscloth/RKD metric/loss.py `RKdAngle`: smooth L1
 * (beta 1, mean over all N³ triples) between the angle cosines of student and teacher. Inputs
 * [N, D] embeddings; the teacher side is a constant.
 */
export function rkdAngleLoss(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  checkEmbeddings(student, teacher, 'rkdAngleLoss');
  return tf.tidy(() => smoothL1(angles(student), angles(constant(teacher))));
}

/**
 * Zhao et al. 2022 decoupled KD, reference megvii-research/mdistiller
 * mdistiller/distillers/DKD.py `dkd_loss`, returned as its two parts, unweighted:
 *  target = TCKD = KL of the binary (target, non-target) distributions at T, * T² / batch;
 *  nonTarget = NCKD = KL of the distributions over the non-target classes (logits/T − 1000·gt_mask,
 *  as the reference), * T² / batch.
 * The reference returns alpha*target + beta*nonTarget. Per sample, plain KD at T equals
 * TCKD + (1 − p_t)·NCKD with p_t the teacher's target probability (the paper's eq. 1–4).
 * The binary log-probabilities are computed stably from the target logit and a log-sum-exp over
 * the others, where the reference takes torch.log of the summed probabilities (the same values
 * while those do not underflow).
 */
export function dkdParts(
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  labels: tf.Tensor1D,
  temperature: number,
  rowWeights?: tf.Tensor1D,
): { target: tf.Scalar; nonTarget: tf.Scalar } {
  sameShape(student, teacher, 'dkdParts');
  const [batch, classes] = student.shape;
  const t2 = temperature * temperature;
  return tf.tidy(() => {
    const gtMask = tf.oneHot(tf.cast(labels, 'int32'), classes);
    const isOther = tf.cast(tf.sub(1, gtMask), 'bool');
    const minusInf = tf.fill([batch, classes], -Infinity);
    const s = tf.div(student, temperature);
    const t = tf.div(constant(teacher), temperature);

    // With g the target logit and o = logsumexp of the others: log p(target) = −softplus(o − g),
    // log p(other) = −softplus(g − o). No log of a sum of probabilities (which the reference does,
    // and which loses everything once the other classes' mass underflows), and no log of a number
    // near 1 (which costs float32 its relative accuracy on the small log p(other) of an
    // unconfident target, and then on TCKD).
    const binaryLogProbs = (z: tf.Tensor) => {
      const logitTarget = tf.sum(tf.mul(gtMask, z), 1, true);
      const lseOther = tf.logSumExp(tf.where(isOther, z, minusInf), 1, true);
      return tf.concat(
        [tf.neg(tf.softplus(tf.sub(lseOther, logitTarget))), tf.neg(tf.softplus(tf.sub(logitTarget, lseOther)))],
        1,
      );
    };
    // Both parts read the label: with rowWeights, the mean over the weighted (labeled) rows.
    const target = tf.mul(rowMean(klRows(binaryLogProbs(t), binaryLogProbs(s)), rowWeights), t2) as tf.Scalar;

    const masked = (z: tf.Tensor) => tf.logSoftmax(tf.sub(z, tf.mul(gtMask, 1000)));
    const nonTarget = tf.mul(rowMean(klRows(masked(t), masked(s)), rowWeights), t2) as tf.Scalar;
    return { target, nonTarget };
  });
}

/**
 * The Tf-KD_reg virtual teacher's log-distribution, log softmax(u / T) with u = correctProbability
 * on the label and (1 − correctProbability)/(K − 1) elsewhere. Softening an already-normalised u
 * puts far less than correctProbability on the label (10.4 % at 0.9, T = 20, K = 10).
 */
export function virtualTeacherLogProbabilities(
  labels: tf.Tensor1D,
  classes: number,
  temperature: number,
  correctProbability: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const other = (1 - correctProbability) / (classes - 1);
    const u = tf.add(tf.mul(tf.oneHot(tf.cast(labels, 'int32'), classes), correctProbability - other), other);
    return tf.logSoftmax(tf.div(u, temperature)) as tf.Tensor2D;
  });
}

/**
 * Teacher-free KD (Yuan et al. 2020, Tf-KD_reg, yuanli2333/Teacher-free-Knowledge-Distillation
 * my_loss_function.py loss_kd_regularization): virtual teacher u = correctProbability on the label
 * and (1 − correctProbability)/(K − 1) elsewhere; its distribution is softmax(u / T), exactly as the
 * authors' code does (u is already a distribution: this softens it further); the term is
 * KL(softmax(u/T) || softmax(student)) with the student at T = 1 as in their code, but with
 * reduction batchmean (sum over classes, mean over rows) instead of their element mean, and no
 * multiplier.
 */
export function teacherFreeLoss(
  student: tf.Tensor2D,
  labels: tf.Tensor1D,
  temperature: number,
  correctProbability: number,
  rowWeights?: tf.Tensor1D,
): tf.Scalar {
  const classes = student.shape[1];
  if (classes < 2)
    throw new Error(`teacherFreeLoss: needs at least 2 classes, got shape [${student.shape.join(', ')}]`);
  return tf.tidy(() => {
    const logP = virtualTeacherLogProbabilities(labels, classes, temperature, correctProbability);
    const logQ = tf.logSoftmax(student);
    // The virtual teacher is built from the label: with rowWeights, over the weighted rows only.
    return rowMean(klRows(logP, logQ), rowWeights);
  });
}

/**
 * Heo et al. 2019 activation-boundary transfer, the authors' `criterion_alternative_L2`
 * (bhheo/AB_distillation; RepDistiller distiller_zoo/AB.py): with c the connector's output and t
 * the teacher's, Σ (c + m)²·[c > −m]·[t ≤ 0] + (c − m)²·[c ≤ m]·[t > 0] over every neuron, divided
 * by the batch size. The indicator masks carry no gradient (tf.step's is zero), as the
 * reference's `.float()` masks; only the sign of t is read, so the teacher's output after a ReLU
 * gives the same loss as before it. The authors' further × 3 / 1000 is the term's default weight.
 */
export function activationBoundaryLoss(connector: tf.Tensor, teacher: tf.Tensor, margin: number): tf.Scalar {
  sameShape(connector, teacher, 'activationBoundaryLoss');
  return tf.tidy(() => {
    const active = tf.step(constant(teacher)); // [t > 0]
    const inactive = tf.sub(1, active); // [t <= 0]
    const aboveLow = tf.step(tf.add(connector, margin)); // [c > -m]
    const belowHigh = tf.sub(1, tf.step(tf.sub(connector, margin))); // [c <= m]
    const pushDown = tf.mul(tf.square(tf.add(connector, margin)), tf.mul(aboveLow, inactive));
    const pushUp = tf.mul(tf.square(tf.sub(connector, margin)), tf.mul(belowHigh, active));
    return tf.div(tf.sum(tf.add(pushDown, pushUp)), connector.shape[0]) as tf.Scalar;
  });
}

/**
 * Rocket launching's hint (Zhou et al. 2018, zhougr1993/Rocket-Launching rocket_interval.py):
 * Σ (booster − light)² over every element divided by the batch, i.e. the squared L2 distance of
 * the logits, mean over rows. With `gradientBlock` (the authors' `y.data` copy) the booster's
 * logits are a constant, so the hint trains the light net only; without it, both.
 */
export function rocketHintLoss(light: tf.Tensor2D, booster: tf.Tensor2D, gradientBlock: boolean): tf.Scalar {
  sameShape(light, booster, 'rocketHintLoss');
  return tf.tidy(() => {
    const target = gradientBlock ? constant(booster) : booster;
    // d·d rather than squaredDifference: the kernels every run has (a strategy's terms are not in the kernel table).
    const d = tf.sub(target, light);
    return tf.div(tf.sum(tf.mul(d, d)), light.shape[0]) as tf.Scalar;
  });
}

/** RepDistiller crd/criterion.py `eps`: keeps the NCE ratios finite. */
const CRD_EPS = 1e-7;

/** RepDistiller crd/criterion.py `Normalize(2)`: each row divided by its L2 norm (`Embed`'s last step). */
export function crdNormalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => l2NormalizeLast(x, 1e-12) as tf.Tensor2D);
}

/**
 * One side of RepDistiller crd/memory.py `ContrastMemory.forward`: exp(⟨memory row, anchor⟩ / T)
 * for each anchor [B, D] and its K + 1 memory rows [B, K + 1, D] (the positive first), unnormalised
 * ([B, K + 1]). The memory rows are a constant (the reference `.detach()`s them).
 */
export function crdScores(anchor: tf.Tensor2D, memoryRows: tf.Tensor3D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, , dim] = memoryRows.shape;
    const dots = tf.matMul(constant(memoryRows), tf.reshape(anchor, [batch, dim, 1]));
    return tf.exp(tf.div(tf.squeeze(dots, [2]), temperature)) as tf.Tensor2D;
  });
}

/**
 * RepDistiller crd/criterion.py `ContrastLoss` (the paper's eq. 18, NCE with noise Pn = 1 / nData):
 * −(Σ_b log(P_pos / (P_pos + m·Pn + eps)) + Σ_b Σ_k log(m·Pn / (P_neg + m·Pn + eps))) / B, with
 * x = [B, K + 1] normalised scores (positive first), m = K.
 */
export function crdContrastLoss(x: tf.Tensor2D, nData: number): tf.Scalar {
  return tf.tidy(() => {
    const [batch, width] = x.shape;
    const mPn = (width - 1) / nData;
    const pos = tf.slice(x, [0, 0], [batch, 1]);
    const neg = tf.slice(x, [0, 1], [batch, width - 1]);
    const logD1 = tf.log(tf.div(pos, tf.add(pos, mPn + CRD_EPS)));
    const logD0 = tf.log(tf.div(mPn, tf.add(neg, mPn + CRD_EPS)));
    return tf.div(tf.neg(tf.add(tf.sum(logD1), tf.sum(logD0))), batch) as tf.Scalar;
  });
}

/**
 * The memory update of `ContrastMemory.forward`: momentum · old row + (1 − momentum) · embedding,
 * renormalised to unit length (no gradient: the reference runs it under torch.no_grad()).
 */
export function crdMemoryUpdate(oldRows: tf.Tensor2D, embedding: tf.Tensor2D, momentum: number): tf.Tensor2D {
  return tf.tidy(() => {
    const mixed = tf.add(tf.mul(oldRows, momentum), tf.mul(constant(embedding), 1 - momentum));
    return tf.div(mixed, tf.sqrt(tf.sum(tf.square(mixed), 1, true))) as tf.Tensor2D;
  });
}

/**
 * The CRD loss of a batch (Tian et al. 2019; RepDistiller `CRDLoss.forward` with `ContrastMemory`):
 * the student embedding scored against the teacher memory's rows `contrastRows` (the positive, then
 * K negatives), the teacher embedding against the student memory's, each divided by its Z, and the
 * two NCE losses summed. Z is the reference's normalisation constant, mean(scores) · nData, fixed
 * on the first batch: pass undefined to compute it here (returned, a constant thereafter).
 * Returns the loss and the Z values used; the memory update is crdMemoryUpdate's, after the step.
 */
export function crdLoss(args: {
  student: tf.Tensor2D;
  teacher: tf.Tensor2D;
  studentMemory: tf.Tensor2D;
  teacherMemory: tf.Tensor2D;
  contrastRows: tf.Tensor2D;
  temperature: number;
  nData: number;
  zStudent?: tf.Scalar;
  zTeacher?: tf.Scalar;
}): { loss: tf.Scalar; zStudent: tf.Scalar; zTeacher: tf.Scalar } {
  const { student, teacher, studentMemory, teacherMemory, contrastRows, temperature, nData } = args;
  return tf.tidy(() => {
    const [batch, width] = contrastRows.shape;
    const dim = studentMemory.shape[1];
    const flat = tf.reshape(contrastRows, [-1]);
    const rowsOf = (memory: tf.Tensor2D) => tf.reshape(tf.gather(memory, flat), [batch, width, dim]) as tf.Tensor3D;
    // out_v1: the student against the teacher's memory; out_v2: the teacher against the student's.
    const outStudent = crdScores(student, rowsOf(teacherMemory), temperature);
    const outTeacher = crdScores(teacher, rowsOf(studentMemory), temperature);
    const zStudent = args.zStudent ?? (constant(tf.mul(tf.mean(outStudent), nData)) as tf.Scalar);
    const zTeacher = args.zTeacher ?? (constant(tf.mul(tf.mean(outTeacher), nData)) as tf.Scalar);
    const loss = tf.add(
      crdContrastLoss(tf.div(outStudent, zStudent) as tf.Tensor2D, nData),
      crdContrastLoss(tf.div(outTeacher, zTeacher) as tf.Tensor2D, nData),
    ) as tf.Scalar;
    return { loss, zStudent, zTeacher };
  });
}

/**
 * Multi-teacher KD on logits. `fixed`: Σ_k w_k · T²·KL(p_k || p_s), batch mean, w divided by its
 * sum (equal weights: the mean of the teachers' KD losses, CA-MKD's AVERAGE_LOSS). `confidence`:
 * the CA-MKD authors' rule (Zhang et al. 2022, train_student.py, ensemble_method 'CAMKD'): per
 * example x, w_k(x) = (1 − softmax_k(CE_k(x))) / (K − 1) with CE_k teacher k's cross-entropy on the
 * label at T = 1, and the term is Σ_k Σ_x w_k(x)·T²·KL_x(p_k || p_s) / (N·K). A row without a
 * label (label −1) has CE_k = 0 for every k, so its teachers weigh 1/K each. The teachers are
 * constants; so are the confidence weights.
 */
export function multiTeacherKd(
  student: tf.Tensor2D,
  teachers: tf.Tensor2D[],
  labels: tf.Tensor1D,
  temperature: number,
  weighting: 'confidence' | 'fixed',
  weights?: number[],
): tf.Scalar {
  const k = teachers.length;
  if (k < 2) throw new Error(`multiTeacherKd: needs at least 2 teachers, got ${k}`);
  teachers.forEach((t) => sameShape(student, t, 'multiTeacherKd'));
  const [batch, classes] = student.shape;
  const t2 = temperature * temperature;
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(student, temperature));
    // [K, N]: each teacher's T²·KL per example.
    const kl = tf.stack(
      teachers.map((t) => tf.mul(klRows(tf.logSoftmax(tf.div(constant(t), temperature)), logQ), t2)),
    ) as tf.Tensor2D;
    if (weighting === 'fixed') {
      const w = weights ?? teachers.map(() => 1);
      const sum = w.reduce((a, b) => a + b, 0);
      const column = tf.tensor2d(
        w.map((v) => v / sum),
        [k, 1],
      );
      return tf.div(tf.sum(tf.mul(kl, column)), batch) as tf.Scalar;
    }
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), classes);
    const ce = tf.stack(
      teachers.map((t) => tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(constant(t))), 1))),
    ) as tf.Tensor2D;
    const attention = tf.div(tf.sub(1, tf.softmax(ce.transpose()).transpose()), k - 1);
    return tf.div(tf.sum(tf.mul(attention, kl)), batch * k) as tf.Scalar;
  });
}
