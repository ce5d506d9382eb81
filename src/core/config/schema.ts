/**
 * The one definition of a `*.distill.json` file. From it come the runtime validation, the
 * committed JSON Schema (media/distill.schema.json, for editor completion) and the README's
 * config reference: edit here, then `npm run schema`.
 */
import { z } from 'zod';
import { BACKEND_NAMES } from '../../protocol/backends.ts';
import { seedsSchema, sweepSpecSchema } from '../sweep/schema.ts';

const positiveInt = () => z.number().int().positive();
const fraction = () => z.number().min(0).max(1);

export const ACTIVATIONS = ['relu', 'relu6', 'elu', 'selu', 'tanh', 'sigmoid', 'swish', 'softplus', 'linear'] as const;
const activation = z.enum(ACTIVATIONS);

const kernel = z.union([positiveInt(), z.tuple([positiveInt(), positiveInt()])]);

const denseLayer = z.strictObject({
  type: z.literal('dense'),
  units: positiveInt().describe('Number of output units.'),
  activation: activation.default('linear').describe('Activation applied to the output.'),
});
const conv2dLayer = z.strictObject({
  type: z.literal('conv2d'),
  filters: positiveInt().describe('Number of output channels.'),
  kernelSize: kernel.default(3).describe('Kernel height and width, or one number for both.'),
  strides: kernel.default(1).describe('Stride, or one number for both directions.'),
  padding: z
    .enum(['same', 'valid'])
    .default('same')
    .describe('`same` keeps the spatial size at stride 1; `valid` uses no padding.'),
  activation: activation.default('linear').describe('Activation applied to the output.'),
});
const batchnormLayer = z.strictObject({
  type: z.literal('batchnorm'),
  momentum: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.99)
    .describe('Moving-average momentum of the running statistics (Keras convention).'),
  epsilon: z.number().positive().default(1e-3).describe('Added to the variance for numerical stability.'),
});
const activationLayer = z.strictObject({
  type: z.literal('activation'),
  fn: activation.describe('The activation function.'),
});
const poolLayer = (kind: 'maxpool' | 'avgpool') =>
  z.strictObject({
    type: z.literal(kind),
    poolSize: kernel.default(2).describe('Pooling window, or one number for both directions.'),
    strides: kernel.optional().describe('Stride; defaults to the pool size.'),
    padding: z.enum(['same', 'valid']).default('valid').describe('Padding mode.'),
  });
const flattenLayer = z.strictObject({ type: z.literal('flatten') });
const dropoutLayer = z.strictObject({
  type: z.literal('dropout'),
  rate: z.number().min(0).lt(1).describe('Fraction of units dropped during training (none at inference).'),
});

const embeddingLayer = z.strictObject({
  type: z.literal('embedding'),
  dim: positiveInt().describe('Width of each token vector; the vocabulary size comes from the text data.'),
  maskPadding: z
    .boolean()
    .default(true)
    .describe(
      'Mark padding (token id 0) as absent for the layers after it: `meanpool`, `lstm` and `gru` then ignore it. `conv1d` and `globalmaxpool1d` do not take a mask: set false before them.',
    ),
});
const conv1dLayer = z.strictObject({
  type: z.literal('conv1d'),
  filters: positiveInt().describe('Number of output channels.'),
  kernelSize: positiveInt().default(3).describe('Width of the window over the token axis.'),
  padding: z
    .enum(['same', 'valid'])
    .default('same')
    .describe('`same` keeps the sequence length; `valid` uses no padding.'),
  activation: activation.default('relu').describe('Activation applied to the output.'),
});
const meanpoolLayer = z.strictObject({
  type: z.literal('meanpool'),
});
const globalMaxpool1dLayer = z.strictObject({ type: z.literal('globalmaxpool1d') });
const recurrentLayer = (kind: 'lstm' | 'gru') =>
  z.strictObject({
    type: z.literal(kind),
    units: positiveInt().describe('Width of the hidden state (per direction).'),
    bidirectional: z
      .boolean()
      .default(false)
      .describe('Also read the sequence backwards and concatenate both final states (a BiLSTM / BiGRU).'),
  });

export const layerSchema = z.discriminatedUnion('type', [
  denseLayer,
  conv2dLayer,
  batchnormLayer,
  activationLayer,
  poolLayer('maxpool'),
  poolLayer('avgpool'),
  flattenLayer,
  dropoutLayer,
  embeddingLayer,
  conv1dLayer,
  meanpoolLayer,
  globalMaxpool1dLayer,
  recurrentLayer('lstm'),
  recurrentLayer('gru'),
]);
export type LayerSpec = z.infer<typeof layerSchema>;

const mlpArchitecture = z.strictObject({
  type: z.literal('mlp'),
  hidden: z.array(positiveInt()).default([64]).describe('Widths of the hidden dense layers, in order.'),
  activation: activation.default('relu').describe('Activation after each hidden layer.'),
  dropout: z.number().min(0).lt(1).default(0).describe('Dropout rate after each hidden layer (0 = none).'),
  batchNorm: z.boolean().default(false).describe('Batch normalisation after each hidden layer, before the activation.'),
});
const cnnArchitecture = z.strictObject({
  type: z.literal('cnn'),
  channels: z
    .array(positiveInt())
    .min(1)
    .default([32, 64])
    .describe('Output channels of each conv block (conv, activation, pooling).'),
  kernelSize: positiveInt().default(3).describe('Kernel size of every conv layer.'),
  pool: z.enum(['max', 'avg', 'none']).default('max').describe('2x2 pooling after each conv block.'),
  dense: z.array(positiveInt()).default([128]).describe('Widths of the dense layers after flattening.'),
  activation: activation.default('relu').describe('Activation of conv and dense layers.'),
  dropout: z.number().min(0).lt(1).default(0).describe('Dropout rate before each dense layer (0 = none).'),
  batchNorm: z.boolean().default(false).describe('Batch normalisation after each conv layer.'),
});
const layersArchitecture = z.strictObject({
  type: z.literal('layers'),
  layers: z
    .array(layerSchema)
    .min(1)
    .describe('Explicit layer list; the input is the data shape (e.g. [28, 28, 1] for images).'),
});

const textArchitecture = z.strictObject({
  type: z
    .literal('text')
    .describe('A text classifier on token ids (`data.source: "text"`): an embedding, an encoder, then dense layers.'),
  embeddingDim: positiveInt().default(64).describe('Width of the token embedding.'),
  encoder: z
    .enum(['mean', 'conv', 'lstm', 'gru'])
    .default('mean')
    .describe(
      '`mean`: the mean of the token vectors, padding excluded (fastText, Joulin et al. 2017); `conv`: 1-D convolutions over the tokens, then the maximum over the sequence (Kim 2014, stacked rather than parallel widths); `lstm` / `gru`: a recurrent layer whose final state (at the last real token) is the text vector (Tang et al. 2019 use a BiLSTM).',
    ),
  units: positiveInt()
    .default(64)
    .describe('Channels of each conv layer (`conv`) or hidden width per direction (`lstm`, `gru`); unused by `mean`.'),
  convLayers: positiveInt().default(1).describe('Number of stacked conv layers (`conv`).'),
  kernelSize: positiveInt().default(3).describe('Window of the conv layers over the tokens (`conv`).'),
  bidirectional: z.boolean().default(false).describe('Read the text both ways (`lstm`, `gru`).'),
  dense: z.array(positiveInt()).default([]).describe('Widths of the dense layers (ReLU) after the encoder.'),
  dropout: z.number().min(0).lt(1).default(0).describe('Dropout rate after the encoder (0 = none).'),
});

export const architectureSchema = z
  .discriminatedUnion('type', [mlpArchitecture, cnnArchitecture, layersArchitecture, textArchitecture])
  .describe('Model architecture. A final dense layer with one output (logit) per class is always added.');
export type ArchitectureSpec = z.infer<typeof architectureSchema>;

const idxFiles = z.strictObject({
  images: z.string().min(1).describe('IDX images file (plain or .gz), relative to the config file.'),
  labels: z.string().min(1).describe('IDX labels file (plain or .gz), relative to the config file.'),
});

const augmentSchema = z
  .strictObject({
    crop: z
      .strictObject({
        padding: positiveInt().describe('Zeros added on every side before a crop of the original size is taken.'),
      })
      .optional()
      .describe('Random crop: pad the image with zeros, then crop it back to its size at a random position.'),
    flip: z.boolean().default(false).describe('Mirror each image left-right with probability 1/2.'),
    translate: z
      .strictObject({
        pixels: positiveInt().describe('Largest shift in each direction; shifted-in pixels are zero.'),
      })
      .optional()
      .describe('Random translation by a whole number of pixels in -pixels..pixels, vertically and horizontally.'),
  })
  .describe(
    'Augment the training batches of image data (crop, then flip, then translate), on the device, seeded by `train.seed`, the epoch and the step, so a resumed run sees the same batches. Every phase trains on augmented batches; a teacher that the loss reads then runs on each augmented batch (online) instead of using its precomputed outputs. Validation and test examples are not augmented.',
  );

const unlabeledLimit = positiveInt()
  .optional()
  .describe('Use only this many unlabeled examples, taken after a seeded shuffle (`train.seed`).');
const unlabeledSchema = z
  .discriminatedUnion('source', [
    z.strictObject({
      source: z.literal('idx').describe('An IDX images file; no labels file is read.'),
      images: z.string().min(1).describe('IDX images file (plain or .gz), relative to the config file.'),
      limit: unlabeledLimit,
    }),
    z.strictObject({
      source: z.literal('csv').describe('A CSV file of numeric features, the same columns as the training features.'),
      file: z.string().min(1).describe('The CSV file, relative to the config file.'),
      label: z
        .union([z.string().min(1), z.number().int()])
        .optional()
        .describe(
          'A label column to drop (its values are never used): a header name or a 0-based index (negative from the end). Without it every column is a feature.',
        ),
      header: z
        .union([z.boolean(), z.literal('auto')])
        .default('auto')
        .describe('Whether the first row is a header; `auto` detects it.'),
      delimiter: z.string().length(1).default(',').describe('Field delimiter.'),
      limit: unlabeledLimit,
    }),
    z.strictObject({
      source: z.literal('npy').describe('A NumPy array of examples (.npy, or one array of an .npz).'),
      x: z.string().min(1).describe('The .npy or .npz file, relative to the config file.'),
      xKey: z.string().min(1).optional().describe('The array of an .npz file to use; defaults to its only array.'),
      layout: z
        .enum(['nhwc', 'nchw'])
        .default('nhwc')
        .describe('Axis order of a 4-D image array: `nhwc` (TensorFlow) or `nchw` (PyTorch, transposed on load).'),
      limit: unlabeledLimit,
    }),
    z.strictObject({
      source: z
        .literal('images')
        .describe(
          "A folder of PNG, JPEG or WebP images, read recursively (subfolders are not classes), decoded and resized to the labeled examples' height, width and channels; cached under `cache.dir`.",
        ),
      dir: z.string().min(1).describe('The folder, relative to the config file.'),
      fit: z
        .enum(['fill', 'cover', 'contain'])
        .optional()
        .describe(
          "How images of another size are resized (see `data.fit`); defaults to the labeled image folders' `fit`, else `fill`.",
        ),
      limit: unlabeledLimit,
    }),
    z.strictObject({
      source: z
        .literal('augment')
        .describe(
          "Text data only: Tang et al. 2019's transfer set, `copies` augmented copies of each training text (the validation and test texts are never used), made before tokenisation and seeded by `train.seed`. Per copy each word (a whitespace-separated piece) is masked with probability `mask` (the student's unknown id; the teacher's [MASK] token, else its unknown token) or replaced with probability `replace`; then with probability `ngram` only a random n-gram of it is kept (n uniform in 1..5).",
        ),
      mask: z.number().min(0).max(1).default(0.1).describe('p_mask: probability that a word is masked.'),
      replace: z
        .number()
        .min(0)
        .max(1)
        .default(0.1)
        .describe(
          "Probability that a word is replaced by a word drawn from the training texts by frequency. Tang et al.'s p_pos draws a word of the same part of speech, which needs a part-of-speech tagger; none is bundled, so this draw ignores parts of speech.",
        ),
      ngram: z
        .number()
        .min(0)
        .max(1)
        .default(0.25)
        .describe('p_ng: probability that a copy is cut to a random n-gram of itself, n uniform in 1..5.'),
      copies: positiveInt().default(20).describe('n_iter: augmented copies per training text.'),
      limit: unlabeledLimit,
    }),
  ])
  .superRefine((u, ctx) => {
    if (u.source === 'augment' && u.mask + u.replace > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['replace'],
        message: `mask + replace is ${u.mask + u.replace}: they are exclusive probabilities for one word, so expected a sum of at most 1`,
      });
  })
  .describe(
    'An unlabeled transfer set (Hinton et al. 2015): examples without labels, of the same shape and raw units as the labeled ones, normalised as they are (with the statistics of the labeled training split). Distillation stages that read a teacher train on the labeled and the unlabeled examples: soft-target terms on all of them, losses that read labels on the labeled ones only. The teacher (when trained in the run) and the from-scratch baseline train on the labeled examples alone.',
  );

const dataCommon = {
  validationFraction: z
    .number()
    .min(0)
    .max(0.5)
    .default(0.1)
    .describe('Fraction of the training examples held out for validation after a seeded shuffle.'),
  trainLimit: positiveInt()
    .optional()
    .describe(
      'Use only this many training examples (taken after the seeded shuffle, class-balanced when possible). Useful to study KD with little data.',
    ),
  normalize: z
    .enum(['scale', 'standardize', 'none'])
    .default('scale')
    .describe(
      '`scale`: pixels divided by 255 (IDX, image folders, uint8 NumPy arrays) or features min-max scaled to [0, 1] from the training split (CSV, other NumPy arrays); `standardize`: zero mean and unit variance per feature from the training split; `none`: raw values.',
    ),
  batchSize: positiveInt().default(128).describe('Training batch size.'),
  // .optional() after the default: parsed configs always have it, and code that builds a data spec by hand need not.
  dropLast: z
    .boolean()
    .default(false)
    .optional()
    .describe(
      'Drop the last, incomplete batch of each epoch (the examples left out change each epoch with the shuffle). Without it the last batch is smaller, down to one example, on which pairwise terms (rkd) add nothing.',
    ),
  evalBatchSize: positiveInt()
    .default(1000)
    .describe('Batch size for evaluation and teacher inference (no gradients, so larger is faster).'),
  augment: augmentSchema.optional(),
  unlabeled: unlabeledSchema.optional(),
};

const demoData = z.strictObject({
  source: z
    .literal('demo')
    .describe('The embedded Fashion-MNIST subset shipped with Distill Studio (4,000 training and 2,000 test images).'),
  ...dataCommon,
});
const idxData = z.strictObject({
  source: z.literal('idx').describe('IDX files, the MNIST / Fashion-MNIST format.'),
  dir: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A folder with the standard names (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...). Used for any split not given explicitly.',
    ),
  train: idxFiles.optional().describe('Training files; defaults to the standard names in `dir`.'),
  test: idxFiles.optional().describe('Test files; defaults to the standard names in `dir`.'),
  ...dataCommon,
});
const csvData = z.strictObject({
  source: z.literal('csv').describe('CSV files with numeric features and one label column.'),
  train: z.string().min(1).describe('Training CSV file, relative to the config file.'),
  test: z
    .string()
    .min(1)
    .optional()
    .describe('Test CSV file. Without it, `testFraction` of the training rows is held out.'),
  testFraction: z
    .number()
    .gt(0)
    .max(0.5)
    .default(0.2)
    .describe('Fraction held out for testing when no `test` file is given.'),
  label: z
    .union([z.string().min(1), z.number().int()])
    .default(-1)
    .describe(
      'Label column: its header name, or a 0-based index (negative counts from the end; -1 is the last column).',
    ),
  header: z
    .union([z.boolean(), z.literal('auto')])
    .default('auto')
    .describe('Whether the first row is a header; `auto` detects it.'),
  delimiter: z.string().length(1).default(',').describe('Field delimiter.'),
  ...dataCommon,
});

const imagesData = z.strictObject({
  source: z
    .literal('images')
    .describe(
      'Image folders (the torchvision ImageFolder layout: one subfolder per class), PNG, JPEG or WebP, decoded and resized with sharp; decoded pixels are cached under `cache.dir`.',
    ),
  train: z
    .string()
    .min(1)
    .describe('Training folder with one subfolder per class (`<train>/<class>/<image>`), relative to the config file.'),
  test: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Test folder with the same class subfolders (it may lack some). Without it, `testFraction` of the training images is held out.',
    ),
  testFraction: z
    .number()
    .gt(0)
    .max(0.5)
    .default(0.2)
    .describe('Fraction held out for testing when no `test` folder is given.'),
  height: positiveInt().describe('Height the images are resized to, in pixels.'),
  width: positiveInt().describe('Width the images are resized to, in pixels.'),
  channels: z
    .enum(['grayscale', 'rgb'])
    .default('grayscale')
    .describe(
      '`grayscale`: one channel (colour images become ITU-R 601 luma, as PIL\'s convert("L")); `rgb`: three (grayscale images are repeated). An alpha channel is dropped.',
    ),
  fit: z
    .enum(['fill', 'cover', 'contain'])
    .default('fill')
    .describe(
      "How images of another size are resized: `fill` stretches to height x width (torchvision's Resize((h, w))); `cover` keeps the aspect ratio and crops the centre; `contain` keeps it and pads with black.",
    ),
  classes: z
    .array(z.string().min(1))
    .min(2)
    .optional()
    .describe(
      'The class order (class index = position), when it must match a teacher trained elsewhere; each name is a subfolder of `train`. Default: the subfolder names, sorted.',
    ),
  ...dataCommon,
});

const npyArrays = z.strictObject({
  x: z
    .string()
    .min(1)
    .describe(
      'Examples: a .npy file (np.save) or an .npz archive (np.savez, np.savez_compressed), relative to the config file. Shape (n, features), (n, height, width), (n, height, width, channels), or (n, channels, height, width) with `layout: "nchw"`; uint8 arrays are pixels (0..255), other numeric dtypes are read as float32.',
    ),
  y: z
    .string()
    .min(1)
    .describe(
      'Class labels: a .npy file or an .npz archive (it may be the same archive as `x`), shape (n,) or (n, 1), non-negative integers (integral floats are accepted).',
    ),
  xKey: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Which array of the `x` archive holds the examples (the keyword given to np.savez, e.g. "x_train"); needed when the archive holds more than one array.',
    ),
  yKey: z
    .string()
    .min(1)
    .optional()
    .describe('Which array of the `y` archive holds the labels; needed when the archive holds more than one array.'),
});

const npyData = z.strictObject({
  source: z
    .literal('npy')
    .describe(
      'NumPy arrays: examples and integer labels saved with np.save (.npy) or np.savez / np.savez_compressed (.npz), images or feature vectors.',
    ),
  train: npyArrays.describe('Training examples and labels.'),
  test: npyArrays
    .optional()
    .describe(
      'Test examples and labels, with the same example shape. Without them, `testFraction` of the training examples is held out.',
    ),
  testFraction: z
    .number()
    .gt(0)
    .max(0.5)
    .default(0.2)
    .describe('Fraction held out for testing when no `test` arrays are given.'),
  layout: z
    .enum(['nhwc', 'nchw'])
    .default('nhwc')
    .describe(
      'Axis order of 4-D image arrays: `nhwc` (n, height, width, channels), as NumPy and TensorFlow keep images; `nchw` (n, channels, height, width), as PyTorch does, transposed to NHWC when loaded. 2-D and 3-D arrays have no channel axis to order.',
    ),
  ...dataCommon,
});

const textColumn = (what: string, fallback: string) =>
  z
    .union([z.string().min(1), z.number().int().min(0)])
    .default(fallback)
    .describe(
      `The ${what}: a header name (CSV/TSV), a key (JSONL), or a 0-based column index (CSV/TSV). Unused for class folders.`,
    );
const wordTokenizer = z.strictObject({
  type: z
    .literal('words')
    .describe(
      'A word-level vocabulary built from the training split (after the validation split is taken out): lower-cased words and punctuation marks; id 0 is padding, id 1 an unknown word.',
    ),
  minFrequency: positiveInt().default(2).describe('Keep words seen at least this many times in the training split.'),
  maxSize: positiveInt()
    .default(20000)
    .describe(
      'Keep at most this many words (the most frequent; ties in first-seen order), padding and unknown included.',
    ),
});
const huggingFaceTokenizer = z.strictObject({
  type: z
    .literal('huggingface')
    .describe(
      "A Hugging Face `tokenizer.json` (WordPiece, BPE, Unigram, ...) read locally by @huggingface/tokenizers, with its special tokens (e.g. [CLS] ... [SEP]). The student's ids are the tokenizer's plus 1, so that 0 is padding.",
    ),
  file: z.string().min(1).describe('The tokenizer.json file, relative to the config file.'),
});
const textData = z.strictObject({
  source: z
    .literal('text')
    .describe(
      'Labeled texts: a CSV, TSV or JSONL file with a text and a label column, or a folder with one subfolder of .txt files per class. Tokenised for the student by `tokenizer` and, for an ONNX teacher, by its own `teacher.tokenizer` (the two id sequences may differ: distillation happens on logits).',
    ),
  train: z
    .string()
    .min(1)
    .describe('Training file (.csv, .tsv, .jsonl) or folder of class subfolders, relative to the config file.'),
  test: z
    .string()
    .min(1)
    .optional()
    .describe('Test file or folder, in the same format. Without it, `testFraction` of the training texts is held out.'),
  testFraction: z
    .number()
    .gt(0)
    .max(0.5)
    .default(0.2)
    .describe('Fraction held out for testing when no `test` is given.'),
  format: z
    .enum(['auto', 'csv', 'tsv', 'jsonl', 'folders'])
    .default('auto')
    .describe('`auto`: from the path (a folder, or the extension .csv, .tsv, .jsonl / .ndjson).'),
  text: textColumn('text column', 'text'),
  label: textColumn('label column (class names or integers)', 'label'),
  classes: z
    .array(z.string().min(1))
    .min(2)
    .optional()
    .describe(
      'The class order (class index = position), when it must match a teacher trained elsewhere. Default: the label names sorted (integer labels: by value).',
    ),
  tokenizer: z
    .discriminatedUnion('type', [wordTokenizer, huggingFaceTokenizer])
    .prefault({ type: 'words' })
    .describe("The student's tokenisation."),
  maxLength: positiveInt()
    .default(64)
    .describe(
      'Tokens per text for the student: longer texts are truncated (the end is dropped), shorter ones padded with id 0 at the end.',
    ),
  ...dataCommon,
  normalize: z
    .enum(['scale', 'standardize', 'none'])
    .default('none')
    .describe('Token ids are not normalised: only `none`.'),
});

export const dataSchema = z
  .discriminatedUnion('source', [demoData, idxData, csvData, imagesData, npyData, textData])
  .describe('Where the examples come from and how they are prepared.');
export type DataSpec = z.infer<typeof dataSchema>;

const teacherSchema = z
  .discriminatedUnion('source', [
    z.strictObject({
      source: z
        .literal('demo')
        .describe(
          'The embedded Fashion-MNIST CNN teacher (trained by this engine on all 60,000 training images). Needs 28x28 images.',
        ),
    }),
    z.strictObject({
      source: z.literal('tfjs').describe('A TensorFlow.js layers model (model.json with its weight files).'),
      path: z
        .string()
        .min(1)
        .describe('Path to model.json, relative to the config file. The model must output one logit per class.'),
    }),
    z.strictObject({
      source: z
        .literal('onnx')
        .describe(
          'An ONNX model (e.g. exported from PyTorch with torch.onnx.export), run by onnxruntime-node. It sees the same preprocessed inputs as the student.',
        ),
      path: z.string().min(1).describe('Path to the .onnx file, relative to the config file.'),
      layout: z
        .enum(['auto', 'nhwc', 'nchw', 'flat'])
        .default('auto')
        .describe(
          "How the model's input relates to the examples: `nchw` (PyTorch images, transposed per batch), `nhwc` (as is), `flat` (one vector per example); `auto` decides from the model's input shape.",
        ),
      logits: z
        .string()
        .min(1)
        .optional()
        .describe("Name of the output holding the logits; defaults to the model's first output."),
      tokenizer: z
        .string()
        .min(1)
        .optional()
        .describe(
          "Text data only: the teacher's own Hugging Face tokenizer.json, relative to the config file. The model then takes `input_ids` and `attention_mask` (and `token_type_ids`, all zeros) as int64, fed by name. Defaults to `data.tokenizer.file` when the student uses a Hugging Face tokenizer too.",
        ),
      maxLength: positiveInt()
        .optional()
        .describe(
          "Text data only: tokens per text for the teacher (truncated, keeping the tokenizer's final special token, or padded); defaults to `data.maxLength`.",
        ),
    }),
    z.strictObject({
      source: z.literal('train').describe('Train the teacher in this run, before distilling.'),
      architecture: architectureSchema,
      epochs: positiveInt().optional().describe('Teacher epochs; defaults to `train.epochs`.'),
      learningRate: z
        .number()
        .positive()
        .optional()
        .describe('Teacher learning rate; defaults to `train.optimizer.learningRate`.'),
    }),
  ])
  .describe('The model whose knowledge is distilled.');

const studentSchema = z
  .strictObject({
    architecture: architectureSchema,
  })
  .describe('The small model being trained.');

const temperature = (fallback: number) => z.number().positive().default(fallback);
const termWeight = (fallback: number, what: string) =>
  z.number().min(0).default(fallback).describe(`Weight of ${what} in the total loss.`);
const layerName = (whose: string) =>
  z.string().min(1).describe(`Name of a ${whose} layer (its output is used; \`distill validate\` lists the names).`);

const kdTerm = z.strictObject({
  type: z
    .literal('kd')
    .describe(
      'Hinton et al. 2015: KL divergence between the softened teacher and student distributions, scaled by T² (or, with `divergence: "mse"`, the squared difference of the logits, Tang et al. 2019).',
    ),
  weight: termWeight(1, 'this term'),
  temperature: temperature(4).describe('Softening temperature T (> 0).'),
  finalTemperature: z
    .number()
    .positive()
    .optional()
    .describe("Anneal T linearly from `temperature` to this value over each phase's steps."),
  divergence: z
    .enum(['forward', 'reverse', 'mse'])
    .default('forward')
    .describe(
      '`forward`: KL(teacher || student), the usual mean-seeking form; `reverse`: KL(student || teacher), mode-seeking; `mse`: mean squared difference of the logits themselves (Tang et al. 2019; PyTorch `nn.MSELoss()(student_logits, teacher_logits)`), for which the temperature is not used.',
    ),
});
const hintTerm = z.strictObject({
  type: z
    .literal('hint')
    .describe(
      "FitNets (Romero et al. 2015): match an intermediate student layer to a teacher layer; a learned linear projection (dense or 1x1 conv) maps the student's width to the teacher's when they differ.",
    ),
  weight: termWeight(1, 'this term'),
  student: layerName('student'),
  teacher: layerName('teacher').describe('Name of a teacher layer (tfjs) or value (ONNX) whose output is the hint.'),
  distance: z
    .enum(['mse', 'cosine'])
    .default('mse')
    .describe('`mse`: mean squared error over all elements; `cosine`: mean of 1 - cosine similarity per example.'),
});
const attentionTerm = z.strictObject({
  type: z
    .literal('attention')
    .describe(
      'Attention transfer (Zagoruyko & Komodakis 2017): match the normalised spatial maps of mean |activation|^p of conv layers with the same height and width.',
    ),
  weight: termWeight(500, "this term (β/2 with the paper's β = 1000)"),
  pairs: z
    .array(z.strictObject({ student: layerName('student conv'), teacher: layerName('teacher conv') }))
    .min(1)
    .describe('Student and teacher conv layers whose attention maps are matched; the term is the sum over pairs.'),
  p: z
    .number()
    .min(1)
    .default(2)
    .describe(
      'Exponent p >= 1 of the attention map (the paper uses 2). p < 1 is refused: the gradient of |x|^p is infinite at 0, which every ReLU output has, so training would turn NaN.',
    ),
});
const rkdTerm = z.strictObject({
  type: z
    .literal('rkd')
    .describe(
      'Relational KD (Park et al. 2019): match the normalised pairwise distances and triplet angles of the examples in a batch.',
    ),
  distanceWeight: z.number().min(0).default(25).describe('Weight of the distance term (paper: 25).'),
  angleWeight: z.number().min(0).default(50).describe('Weight of the angle term (paper: 50).'),
  student: layerName('student')
    .default('logits')
    .describe('Student layer whose (flattened) output is the embedding; `logits` by default.'),
  teacher: layerName('teacher')
    .default('logits')
    .describe(
      "Teacher layer or ONNX value whose (flattened) output is the embedding; `logits` (the teacher's logits) by default.",
    ),
});
const dkdTerm = z.strictObject({
  type: z
    .literal('dkd')
    .describe(
      'Decoupled KD (Zhao et al. 2022): the KD loss split into a target-class part (TCKD) and a non-target part (NCKD) with their own weights.',
    ),
  alpha: z.number().min(0).default(1).describe('Weight of the target-class part (TCKD).'),
  beta: z.number().min(0).default(8).describe('Weight of the non-target part (NCKD).'),
  temperature: temperature(4).describe('Softening temperature T (> 0).'),
  warmupEpochs: z
    .number()
    .min(0)
    .default(5)
    .describe(
      "Scale the term by min(epoch / warmupEpochs, 1), epochs counted from 1, as the authors' code does; 0 = no warm-up. The default 5 is the paper's 20 of 240 CIFAR epochs scaled to a 60-epoch run.",
    ),
});
const teacherFreeTerm = z.strictObject({
  type: z
    .literal('teacher_free')
    .describe(
      "Teacher-free KD (Yuan et al. 2020, Tf-KD_reg): the student learns from a virtual teacher whose logits are `correctProbability` on the label and the rest spread evenly, softened to softmax(logits / T) as in the authors' code. That puts much less than `correctProbability` on the label: with the defaults (0.9, T = 20) and 10 classes, 10.4 % on the label and 9.95 % on each other class, nearly uniform. Needs no teacher, so it tells whether the real teacher helps at all.",
    ),
  weight: termWeight(1, 'this term'),
  temperature: temperature(20).describe(
    "Temperature T of the virtual teacher: its distribution is softmax(logits / T), as in the authors' code; the higher T, the closer to uniform.",
  ),
  correctProbability: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.9)
    .describe(
      "The virtual teacher's logit of the true class (the others get (1 - correctProbability) / (classes - 1)); its probability on the label is lower, after softening by T.",
    ),
});

const activationBoundaryTerm = z.strictObject({
  type: z
    .literal('activation_boundary')
    .describe(
      "Activation boundaries (Heo et al. 2019): a connector (1x1 conv, or dense for flat outputs, without bias, then batch norm, as the authors' code) maps the student layer to the teacher layer's shape, and a hinge-style squared loss with a margin pushes each connector output to the side of 0 on which the teacher's neuron is: (c + margin)² where the teacher is inactive and c > -margin, (c - margin)² where it is active and c < margin; summed over the neurons, mean over the batch. Meant for a pre-training stage (`strategy.type: \"staged\"`), then KD or labels on the whole student.",
    ),
  weight: termWeight(0.003, "this term (the authors' code scales the sum by 3 / 1000)"),
  student: layerName('student').describe(
    "Student layer whose output the connector reads: its pre-activation (a dense or conv layer without activation, or a batchnorm, in a `layers` architecture) as the authors' code, or a layer with its activation.",
  ),
  teacher: layerName('teacher').describe(
    'Teacher layer or ONNX value; only whether each neuron is active (> 0) is used, which is the same before and after a ReLU.',
  ),
  margin: z.number().positive().default(1).describe('Margin μ of the hinge (the authors use 1).'),
});

const crdTerm = z.strictObject({
  type: z
    .literal('crd')
    .describe(
      "Contrastive representation distillation (Tian et al. 2019, as the authors' RepDistiller code): learned linear embedding heads map a student and a teacher layer to `featureDim`, L2-normalised; each example's pair is contrasted (NCE) with `negatives` other examples' embeddings from a memory bank over the training rows, updated with `momentum` after every step and saved with each checkpoint. The heads are trained and checkpointed, not exported.",
    ),
  weight: termWeight(0.8, "this term (the authors' β = 0.8)"),
  student: layerName('student').describe(
    'Student layer whose (flattened) output is embedded; the paper uses the penultimate features (the last hidden layer, e.g. `dense_1` of a one-layer MLP).',
  ),
  teacher: layerName('teacher').describe(
    'Teacher layer (tfjs) or value (ONNX) whose (flattened) output is embedded; the paper uses the penultimate features.',
  ),
  featureDim: positiveInt().default(128).describe('Width of the embedding space (the paper: 128).'),
  negatives: positiveInt()
    .optional()
    .describe(
      "Negatives K per example (the paper's nce_k: 16,384 of CIFAR-100's 50,000 training images). Default: the same fraction of this run's training rows, round(rows · 16384 / 50000), at most 16,384 (655 for the demo job's 2,000 rows). Each step gathers 2 · batch · (K + 1) · featureDim floats.",
    ),
  temperature: temperature(0.07).describe(
    "Temperature of the scores exp(⟨memory, embedding⟩ / T) (the paper's nce_t: 0.07).",
  ),
  momentum: fraction()
    .default(0.5)
    .describe("Memory update: momentum · old + (1 - momentum) · new embedding, renormalised (the paper's nce_m: 0.5)."),
  sampling: z
    .enum(['other_classes', 'uniform'])
    .default('other_classes')
    .describe(
      "Where a labeled example's negatives come from: `other_classes` (the authors' default `exact` mode: rows of other classes), or `uniform` (any row). Unlabeled rows (a transfer set's) always draw from all rows.",
    ),
});

export const lossTermSchema = z.discriminatedUnion('type', [
  kdTerm,
  hintTerm,
  attentionTerm,
  rkdTerm,
  dkdTerm,
  teacherFreeTerm,
  activationBoundaryTerm,
  crdTerm,
]);
export type LossTermSpec = z.infer<typeof lossTermSchema>;

const labelSmoothing = z
  .number()
  .min(0)
  .lt(1)
  .default(0)
  .describe('Label smoothing ε of the hard-label cross-entropy (PyTorch `label_smoothing`).');

const pseudoLabels = z
  .strictObject({
    threshold: fraction().describe(
      "Smallest probability of the teacher's most likely class (softmax at T = 1) for an unlabeled example to take that class as its hard label.",
    ),
  })
  .optional()
  .describe(
    "Pseudo-labels (Lee 2013) for the unlabeled transfer set (`data.unlabeled`): confident unlabeled examples join the hard-label loss with the teacher's class; the number kept is reported per epoch. Needs a loss term that reads the teacher.",
  );

const distillSchema = z
  .discriminatedUnion('method', [
    z.strictObject({
      method: z.literal('kd').describe('Hinton et al. 2015: soft targets at temperature T plus hard labels.'),
      temperature: z
        .number()
        .positive()
        .default(4)
        .describe('Softening temperature T (> 0); the soft-target term is scaled by T².'),
      alpha: fraction()
        .default(0.5)
        .describe('Weight of the hard-label cross-entropy; the soft-target term gets 1 - alpha.'),
      finalTemperature: z
        .number()
        .positive()
        .optional()
        .describe("Anneal T linearly from `temperature` to this value over each phase's steps."),
      divergence: z
        .enum(['forward', 'reverse', 'mse'])
        .default('forward')
        .describe(
          '`forward`: KL(teacher || student); `reverse`: KL(student || teacher); `mse`: mean squared difference of the logits (Tang et al. 2019), without temperature.',
        ),
      pseudoLabels,
    }),
    z.strictObject({
      method: z
        .literal('combined')
        .describe(
          'Any weighted sum of loss terms: hard labels plus kd, hint, attention, rkd, dkd and teacher_free, each logged on its own.',
        ),
      hardWeight: z.number().min(0).default(1).describe('Weight of the hard-label cross-entropy.'),
      labelSmoothing,
      terms: z
        .array(lossTermSchema)
        .min(1)
        .describe('The distillation terms, added to the hard-label term with their weights.'),
      pseudoLabels,
    }),
    z.strictObject({
      method: z
        .literal('none')
        .describe(
          'No distillation: the student trains on labels only (with `labelSmoothing`, the label-smoothing baseline).',
        ),
      labelSmoothing,
      pseudoLabels,
    }),
  ])
  .describe('How the student learns from the teacher.');

const stageArchitecture = z.strictObject({
  architecture: architectureSchema,
  epochs: positiveInt().optional().describe('Epochs for this model; defaults to `train.epochs`.'),
});

const strategySchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('single').describe('One student distilled from the teacher.') }),
    z.strictObject({
      type: z
        .literal('born_again')
        .describe(
          'Born-again networks (Furlanello et al. 2018): generation 1 learns from the teacher, each later generation (same architecture as the student) from the one before; the last generation is the distilled student. The test-time ensemble of all generations (BAN-E: the mean of their softmax outputs) is evaluated, timed and listed as `ban-ensemble`.',
        ),
      generations: z.number().int().min(2).max(10).default(3).describe('Number of student generations (2-10).'),
      generationTeacher: z
        .enum(['previous', 'mean-of-earlier'])
        .default('previous')
        .describe(
          "Who teaches generation 3 and later: `previous`, the generation before (the paper's sequence); `mean-of-earlier`, the mean logits of all earlier generations (a training-time ensemble teacher, not the paper's BAN-E, which is the `ban-ensemble` row).",
        ),
      ensemble: z
        .unknown()
        .optional()
        .refine((v) => v === undefined, {
          message:
            'the born-again `ensemble` option is now `generationTeacher`: "mean-of-earlier" trains later generations on the mean logits of earlier ones (what `ensemble: true` did), "previous" is the default; the test-time ensemble of the generations (BAN-E) is always reported, as the `ban-ensemble` row',
        })
        .describe('Replaced by `generationTeacher` (an error when present, saying so).'),
    }),
    z.strictObject({
      type: z
        .literal('assistants')
        .describe(
          'Teacher-assistant chain (Mirzadeh et al. 2020): teacher -> assistant 1 -> ... -> student, each distilled from the one before; bridges a large size gap.',
        ),
      assistants: z
        .array(stageArchitecture)
        .min(1)
        .max(5)
        .describe('The assistants, from the largest (learns from the teacher) to the smallest (teaches the student).'),
    }),
    z.strictObject({
      type: z
        .literal('mutual')
        .describe(
          'Deep mutual learning (Zhang et al. 2018): the student and a peer train together, each on the labels (the same hard-label weight and label smoothing) plus KL(other || itself) at T = 1, updated in turn as in the paper (`update`); with distill terms the student also learns from the teacher. With `distill.method: "none"` no teacher is used.',
        ),
      peer: architectureSchema.optional().describe("The peer's architecture; defaults to the student's."),
      weight: z.number().min(0).default(1).describe("Weight of each model's KL to the other (the paper uses 1)."),
      update: z
        .enum(['alternating', 'joint'])
        .default('alternating')
        .describe(
          "`alternating` (the paper's algorithm): each step updates the student with the peer's outputs fixed, then runs both again and updates the peer with the updated student's outputs fixed; `joint`: one forward pass, and one summed loss updates both (each KL still treats the other model as a constant), cheaper by a forward pass.",
        ),
    }),
    z.strictObject({
      type: z
        .literal('staged')
        .describe(
          "Several objectives in sequence for one student: each pre-training stage trains it with its own loss terms, starting from the weights the stage before left; then `distill` trains the whole student from the last stage's weights. Two-stage FitNets (Romero et al. 2015: a hint-only stage, then KD) and activation-boundary pre-training (Heo et al. 2019) are this. The from-scratch baseline starts from the same initial weights as the first stage.",
        ),
      stages: z
        .array(
          z.strictObject({
            epochs: positiveInt().optional().describe('Epochs of this stage; defaults to `train.epochs`.'),
            hardWeight: z
              .number()
              .min(0)
              .default(0)
              .describe(
                'Weight of the hard-label cross-entropy in this stage. With 0 and terms that read no logits (hint, activation_boundary on inner layers), the stage trains only the student layers up to the deepest one its terms read, and their projections or connectors.',
              ),
            terms: z.array(lossTermSchema).min(1).describe("This stage's loss terms, as `distill.terms`."),
          }),
        )
        .min(1)
        .max(5)
        .describe('The pre-training stages, in order; `distill` is the last stage.'),
    }),
    z.strictObject({
      type: z
        .literal('multi_teacher')
        .describe(
          'Multi-teacher KD: the student learns from `teacher` and the further `teachers` at once, each teacher\'s KL at T weighted per example by its confidence on the label (CA-MKD, Zhang et al. 2022) or by fixed weights. Each teacher\'s outputs are computed (or read from the cache) once, and each has its own summary row. Use with `distill.method: "none"` (labels plus this term) or `combined` terms that add to it.',
        ),
      teachers: z
        .array(teacherSchema)
        .min(1)
        .max(4)
        .describe(
          'The further teachers (demo, tfjs or onnx files; `teacher` may be trained in the run), listed as teacher-2, teacher-3, ...',
        ),
      weighting: z
        .enum(['confidence', 'fixed'])
        .default('confidence')
        .describe(
          "`confidence`: the CA-MKD authors' rule: per example, w_k = (1 - softmax over teachers of their cross-entropies on the label) / (K - 1), and the term is Σ_k Σ_x w_k(x)·T²·KL(p_k(x) || p_s(x)) / (N·K); rows without a label weigh the teachers equally. `fixed`: Σ_k w_k·T²·KL(p_k || p_s), batch mean, with `weights`.",
        ),
      weights: z
        .array(z.number().min(0))
        .optional()
        .describe(
          "`fixed` only: one weight per teacher, `teacher` first, then `teachers` in order; divided by their sum. Default: equal (the mean of the teachers' KD losses).",
        ),
      temperature: temperature(4).describe('Softening temperature T (> 0) of every teacher and the student.'),
      weight: z.number().min(0).default(1).describe('Weight of the multi-teacher term in the total loss.'),
    }),
    z.strictObject({
      type: z
        .literal('rocket')
        .describe(
          'Rocket launching (Zhou et al. 2018): the student ("light net") and a larger booster train together, sharing the student\'s lower layers up to `shared`; each learns the labels, and the student also matches the booster\'s logits (`weight` · Σ over classes of the squared difference, mean over the batch, as the authors\' code). With `gradientBlock` the hint does not update the booster. The student is exported; the booster (shared layers plus its own) gets its own summary row. With `distill.method: "none"` no teacher is used; with distill terms the student also learns from the teacher.',
        ),
      shared: layerName('student')
        .default('dense_1')
        .describe(
          "The last student layer the booster shares (its output feeds the booster's own layers); the student's later layers are its own. `distill validate` lists the names.",
        ),
      booster: architectureSchema.describe(
        "The booster's own layers, built on the output of the shared layer (an `mlp` or `layers` list for flat outputs, a `cnn` for conv outputs); a final dense layer with one logit per class is added.",
      ),
      weight: z
        .number()
        .min(0)
        .default(0.03)
        .describe("Weight λ of the hint between the logits (the authors' CIFAR-10 runs use 0.03)."),
      gradientBlock: z
        .boolean()
        .default(true)
        .describe(
          "The paper's gradient block: the hint treats the booster's logits as a constant, so it updates the student and the shared layers only; false lets it pull the booster toward the student too (the paper's ablation).",
        ),
    }),
  ])
  .describe('How many models are trained and who teaches whom.');

const optimizerSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('adam'),
      learningRate: z.number().positive().default(1e-3).describe('Peak learning rate.'),
      beta1: z.number().min(0).lt(1).default(0.9).describe('First-moment decay.'),
      beta2: z.number().min(0).lt(1).default(0.999).describe('Second-moment decay.'),
      epsilon: z.number().positive().default(1e-8).describe('Denominator term.'),
      weightDecay: z.number().min(0).default(0).describe('L2 penalty added to the gradient (PyTorch Adam semantics).'),
    }),
    z.strictObject({
      type: z.literal('adamw'),
      learningRate: z.number().positive().default(1e-3).describe('Peak learning rate.'),
      beta1: z.number().min(0).lt(1).default(0.9).describe('First-moment decay.'),
      beta2: z.number().min(0).lt(1).default(0.999).describe('Second-moment decay.'),
      epsilon: z.number().positive().default(1e-8).describe('Denominator term.'),
      weightDecay: z.number().min(0).default(0.01).describe('Decoupled weight decay (Loshchilov & Hutter).'),
    }),
    z.strictObject({
      type: z.literal('sgd'),
      learningRate: z.number().positive().default(0.05).describe('Peak learning rate.'),
      momentum: z.number().min(0).lt(1).default(0.9).describe('Momentum (PyTorch semantics; 0 = plain SGD).'),
      nesterov: z.boolean().default(false).describe('Nesterov momentum.'),
      weightDecay: z.number().min(0).default(0).describe('L2 penalty added to the gradient.'),
    }),
  ])
  .describe('Optimizer and its hyper-parameters.');

const scheduleSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('constant') }),
    z.strictObject({
      type: z.literal('step'),
      everyEpochs: positiveInt().describe('Multiply the learning rate by `gamma` every this many epochs.'),
      gamma: z.number().gt(0).max(1).default(0.1).describe('Decay factor.'),
    }),
    z.strictObject({
      type: z.literal('cosine'),
      minLearningRate: z.number().min(0).default(0).describe('Learning rate at the end of training.'),
      warmupEpochs: z
        .number()
        .min(0)
        .default(0)
        .describe('Linear warm-up from 0 over this many epochs (fractions allowed).'),
    }),
  ])
  .describe('Learning-rate schedule, applied per step.');

const trainSchema = z
  .strictObject({
    epochs: positiveInt()
      .default(10)
      .describe('Epochs for the student (and the baseline, and a trained teacher unless it sets its own).'),
    optimizer: optimizerSchema.prefault({ type: 'adam' }),
    schedule: scheduleSchema.prefault({ type: 'constant' }),
    seed: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Seed for the data split, shuffling, initialisation and dropout: the same seed on the same backend gives the same run.',
      ),
    earlyStopping: z
      .strictObject({
        patience: positiveInt().describe('Stop after this many epochs without improvement of validation accuracy.'),
        minDelta: z
          .number()
          .min(0)
          .default(0)
          .describe('Smallest change of validation accuracy that counts as improvement.'),
        restoreBest: z.boolean().default(true).describe('Keep the weights of the best epoch rather than the last.'),
      })
      .optional()
      .describe("Stop a model's training when validation accuracy stops improving."),
    checkpointEvery: positiveInt()
      .default(1)
      .describe('Write a checkpoint every this many epochs (and always at the end of each phase).'),
    keepCheckpoints: positiveInt()
      .default(3)
      .describe(
        "Keep this many of each phase's most recent checkpoints (resume needs only the latest); older ones are deleted. The phase's `final` checkpoint is always kept, and so is the best epoch's with `keepBestCheckpoint`.",
      ),
    keepBestCheckpoint: z
      .boolean()
      .default(true)
      .describe(
        "Also keep the checkpoint written at the end of each phase's best validation epoch (when one was written there: see `checkpointEvery`).",
      ),
    logEvery: positiveInt().default(20).describe('Record step metrics every this many steps.'),
    step: z
      .enum(['auto', 'tape'])
      .default('auto')
      .describe(
        "How a training step runs. `auto`: on the tensorflow backend, a student that is a stack of dense layers (relu, tanh, sigmoid or linear; no dropout or batch norm) learning from the hard labels and at most one KD term (forward KL at a fixed temperature), with every row labeled, trains with its gradient written out as TensorFlow ops (about 45 per step instead of about 170); every other case, and `tape`, uses tfjs's automatic differentiation. Both minimise the same loss; their values agree to float32 rounding, not bit for bit.",
      ),
  })
  .describe('Training loop settings.');

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema reference for editors.'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
      .max(64)
      .default('run')
      .describe('Run name, used in run folder names (letters, digits, `.`, `_`, `-`).'),
    data: dataSchema,
    teacher: teacherSchema,
    student: studentSchema,
    distill: distillSchema.prefault({ method: 'kd' }),
    train: trainSchema.prefault({}),
    seeds: seedsSchema.optional(),
    sweep: sweepSpecSchema.optional(),
    strategy: strategySchema.prefault({ type: 'single' }),
    cache: z
      .strictObject({
        teacherOutputs: z
          .boolean()
          .default(true)
          .describe(
            "Keep the teacher's outputs on disk and reuse them in later runs with the same teacher file, data and preprocessing (offline KD). Not used for a teacher trained in the run.",
          ),
        dir: z.string().min(1).default('.distill/cache').describe('Cache folder, relative to the config file.'),
        topK: positiveInt()
          .optional()
          .describe(
            'Store only the k largest logits per example (the rest share the remaining probability): smaller files, exact top-k probabilities at T = 1, approximate otherwise.',
          ),
      })
      .prefault({})
      .describe('The on-disk cache of teacher outputs.'),
    baseline: z
      .boolean()
      .default(true)
      .describe(
        'Also train the student from scratch (labels only) with the same budget, to measure what distillation gains.',
      ),
    backend: z
      .enum(['auto', ...BACKEND_NAMES])
      .default('auto')
      .describe(
        'TensorFlow.js backend. `auto` takes the first usable of tensorflow-gpu (tfjs-node-gpu, only when TensorFlow sees a GPU), webgpu (on a hardware adapter), tensorflow (native, CPU), wasm and cpu, skipping any that lacks a kernel the run needs. `webgpu` named explicitly also runs on a software adapter (llvmpipe, SwiftShader), which is slow.',
      ),
    export: z
      .strictObject({
        onnx: z
          .boolean()
          .default(true)
          .describe(
            'Export the student (and a teacher trained in the run) to ONNX at the end, checked against tfjs in onnxruntime.',
          ),
        precisions: z
          .array(z.enum(['fp16', 'int8']))
          .default([])
          .describe(
            'Also export the student at these precisions (artifacts/student.fp16.onnx, student.int8.onnx): fp16 stores float16 weights; int8 is QDQ with per-channel weight scales and activations calibrated on training examples. Each reports its test accuracy against the fp32 export, both run in onnxruntime.',
          ),
      })
      .prefault({})
      .describe("Models written to the run's artifacts/ besides the TensorFlow.js ones."),
    bench: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Measure teacher and student latency at the end of the run.'),
        batchSizes: z.array(positiveInt()).min(1).default([1, 64]).describe('Batch sizes to time.'),
        threads: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('onnxruntime intra-op threads; 0 = its default (one per physical core).'),
        warmup: z.number().int().min(0).default(5).describe('Untimed runs before timing.'),
        minRuns: positiveInt().default(30).describe('Timed runs at least.'),
        minSeconds: z
          .number()
          .positive()
          .default(0.5)
          .describe('Seconds of timed runs at least, per model, runtime and batch size.'),
      })
      .prefault({})
      .describe("Latency benchmark of teacher and student (onnxruntime-node CPU and the run's tfjs backend)."),
    output: z
      .strictObject({
        dir: z
          .string()
          .min(1)
          .default('.distill/runs')
          .describe('Folder for run folders, relative to the config file.'),
      })
      .prefault({})
      .describe('Where runs are written.'),
  })
  .describe('A Distill Studio knowledge-distillation run.');

export type DistillConfig = z.infer<typeof configSchema>;
export type DistillConfigInput = z.input<typeof configSchema>;
export type OptimizerSpec = DistillConfig['train']['optimizer'];
export type ScheduleSpec = DistillConfig['train']['schedule'];
export type TeacherSpec = DistillConfig['teacher'];
export type DistillSpec = DistillConfig['distill'];
export type AugmentSpec = NonNullable<DataSpec['augment']>;
export type UnlabeledSpec = NonNullable<DataSpec['unlabeled']>;
export type StrategySpec = DistillConfig['strategy'];
export type BenchSpec = DistillConfig['bench'];
