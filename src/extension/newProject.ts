/**
 * "Distill: New Distillation Project": a multi-step quick input with Back, a summary of the config
 * before it is written, and Escape at any step writing nothing. The choices at each step come
 * from scaffold.ts (which reads the schema), so the wizard offers what the engine has.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { demoTeacherPath } from '../core/paths.ts';
import { MultiStepInput, type PickItem, type Step } from './multiStepInput.ts';
import {
  DEFAULT_METHOD,
  dataChoices,
  defaultLayerPair,
  methodChoices,
  pseudoLabelsPossible,
  scaffoldConfig,
  scaffoldProblems,
  strategyChoices,
  studentChoices,
  studentLayerNames,
  teacherChoices,
  teacherLayerNames,
  termChoices,
  unlabeledChoices,
  writeScaffold,
  type DataAnswer,
  type DataSource,
  type LayerPair,
  type MethodAnswer,
  type MethodId,
  type ScaffoldAnswers,
  type StrategyType,
  type TeacherKind,
  type TermType,
  type UnlabeledAnswer,
  type UnlabeledSource,
} from './scaffold.ts';

const t = vscode.l10n.t;
const TOTAL = 9;

function dataItems(): Array<PickItem<DataSource>> {
  const all: Record<DataSource, Omit<PickItem<DataSource>, 'value'>> = {
    demo: {
      label: t('Embedded demo'),
      description: t('Fashion-MNIST subset shipped with Distill Studio (2,000 training images used)'),
    },
    idx: { label: t('IDX folder…'), description: t('MNIST / Fashion-MNIST format, standard file names') },
    csv: { label: t('CSV file…'), description: t('numeric features and a label column') },
    images: {
      label: t('Image folders…'),
      description: t('one subfolder per class (the ImageFolder layout); PNG, JPEG or WebP'),
    },
    npy: { label: t('NumPy arrays…'), description: t('features and labels in .npy files or one .npz') },
  };
  return dataChoices().map((value) => ({ ...all[value], value }));
}

const TEACHERS: Record<TeacherKind, Omit<PickItem<TeacherKind>, 'value'>> = {
  demo: { label: t('Embedded demo CNN'), description: t('421,642 parameters, 91.7% on Fashion-MNIST') },
  tfjs: { label: t('TensorFlow.js model…'), description: t('a model.json with its weights') },
  onnx: { label: t('ONNX model…'), description: t('e.g. exported from PyTorch; run by onnxruntime') },
  cnn: { label: t('Train a CNN here'), description: t('trained in the run, before distilling') },
  mlp: { label: t('Train an MLP here'), description: t('trained in the run, before distilling') },
};

const METHOD_ITEMS: Record<MethodId, Omit<PickItem<MethodId>, 'value'>> = {
  kd: {
    label: t('Knowledge distillation (Hinton et al. 2015)'),
    description: t('soft targets at temperature T plus hard labels'),
  },
  dkd: {
    label: t('Decoupled KD (Zhao et al. 2022)'),
    description: t('target-class and non-target-class parts weighted apart'),
  },
  hint: { label: t('FitNets hints + KD (Romero et al. 2015)'), description: t('match an intermediate layer') },
  attention: {
    label: t('Attention transfer + KD (Zagoruyko & Komodakis 2017)'),
    description: t('match the spatial attention maps of conv layers'),
  },
  rkd: {
    label: t('Relational KD + KD (Park et al. 2019)'),
    description: t('match pairwise distances and angles within a batch'),
  },
  teacher_free: {
    label: t('Teacher-free KD (Yuan et al. 2020)'),
    description: t('a virtual teacher: does the real one help at all?'),
  },
  label_smoothing: {
    label: t('Label smoothing'),
    description: t('no teacher: the baseline that teacher-free KD is compared with'),
  },
  combined: { label: t('Combine loss terms…'), description: t('any weighted sum of kd, hint, attention, rkd, dkd…') },
  none: { label: t('None'), description: t('labels only: the student alone') },
};

const TERM_ITEMS: Record<TermType, string> = {
  kd: t('kd: soft targets (Hinton et al.)'),
  hint: t('hint: intermediate layer (FitNets)'),
  attention: t('attention: attention maps of conv layers'),
  rkd: t('rkd: relational distances and angles'),
  dkd: t('dkd: decoupled target / non-target KD'),
  teacher_free: t('teacher_free: a virtual teacher'),
  crd: t('crd: contrastive representation distillation'),
  activation_boundary: t('activation_boundary: neuron activation boundaries (a pre-training stage)'),
};

const STRATEGY_ITEMS: Record<StrategyType, Omit<PickItem<StrategyType>, 'value'>> = {
  single: { label: t('Single student'), description: t('one student distilled from the teacher') },
  born_again: {
    label: t('Born-again networks (Furlanello et al. 2018)'),
    description: t('3 generations of the student, each taught by the one before'),
  },
  assistants: {
    label: t('Teacher assistant (Mirzadeh et al. 2020)'),
    description: t('teacher → an assistant 4× the student → student'),
  },
  mutual: {
    label: t('Deep mutual learning (Zhang et al. 2018)'),
    description: t('the student and a peer teach each other'),
  },
  staged: {
    label: t('Staged objectives (two-stage FitNets, activation boundaries)'),
    description: t('pre-training stages with their own loss terms, then the distillation'),
  },
  multi_teacher: {
    label: t('Multi-teacher KD'),
    description: t('the teacher and further teachers, weighted by their confidence'),
  },
  rocket: {
    label: t('Rocket launching (Zhou et al. 2018)'),
    description: t('the student and a larger booster train together, sharing lower layers'),
  },
};

const UNLABELED_ITEMS: Record<UnlabeledSource, string> = {
  images: t('Image folder…'),
  npy: t('NumPy array (.npy or .npz)…'),
  idx: t('IDX images file…'),
  csv: t('CSV file…'),
};

async function chooseFolder(): Promise<string | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 1) return folders[0].uri.fsPath;
  if (folders.length > 1)
    return (await vscode.window.showWorkspaceFolderPick({ placeHolder: t('Folder for the new config') }))?.uri.fsPath;
  return (
    await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: t('Create the config here'),
    })
  )?.[0]?.fsPath;
}

const positiveInt = (v: string) => (/^\s*[1-9]\d*\s*$/.test(v) ? undefined : t('expected a positive integer'));
const numberIn = (min: number, max: number, minOpen: boolean) => (v: string) => {
  const n = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(n) && (minOpen ? n > min : n >= min) && n <= max;
  return ok
    ? undefined
    : minOpen
      ? t('expected a number > {0}', min)
      : t('expected a number from {0} to {1}', min, max);
};

/** The wizard's answers so far; going back keeps them as the defaults. */
interface State {
  folder: string;
  name: string;
  data?: DataAnswer;
  dataSource: DataSource;
  unlabeled?: UnlabeledAnswer;
  unlabeledSource?: UnlabeledSource;
  teacherKind: TeacherKind;
  teacher?: ScaffoldAnswers['teacher'];
  student: ScaffoldAnswers['student'];
  method: MethodAnswer;
  strategy: StrategyType;
  epochs: number;
  written?: string;
}

function answers(s: State): ScaffoldAnswers {
  return {
    name: s.name,
    data: s.data!,
    unlabeled: s.unlabeled,
    teacher: s.teacher!,
    student: s.student,
    method: s.method,
    strategy: s.strategy,
    epochs: s.epochs,
  };
}

class Wizard {
  constructor(private readonly s: State) {}

  private title(what: string): string {
    return `${t('New Distillation Project')}: ${what}`;
  }

  private open(options: vscode.OpenDialogOptions): (input: MultiStepInput) => Promise<string> {
    return async (input) =>
      (
        await input.dialog(() =>
          vscode.window.showOpenDialog({ defaultUri: vscode.Uri.file(this.s.folder), ...options }),
        )
      )[0].fsPath;
  }

  name: Step = async (input) => {
    const folder = this.s.folder;
    this.s.name = await input.text({
      title: this.title(t('name')),
      step: 1,
      totalSteps: TOTAL,
      value: this.s.name,
      prompt: t('Writes <name>.distill.json in {0}', folder),
      validate: (v) =>
        !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)
          ? t('letters, digits, ".", "_" or "-", starting with a letter or digit')
          : fs.existsSync(path.join(folder, `${v}.distill.json`))
            ? t('{0}.distill.json already exists', v)
            : undefined,
    });
    return this.data;
  };

  data: Step = async (input) => {
    const source = await input.pick({
      title: this.title(t('data')),
      step: 2,
      totalSteps: TOTAL,
      items: dataItems(),
      active: this.s.dataSource,
    });
    this.s.dataSource = source;
    if (source === 'demo') {
      this.s.data = { source: 'demo' };
      return this.unlabeled;
    }
    if (source === 'idx') return this.idx;
    if (source === 'csv') return this.csv;
    if (source === 'images') return this.images;
    return this.npy;
  };

  idx: Step = async (input) => {
    const dir = await this.open({ canSelectFolders: true, canSelectFiles: false, openLabel: t('Use this IDX folder') })(
      input,
    );
    this.s.data = { source: 'idx', dir };
    return this.unlabeled;
  };

  csv: Step = async (input) => {
    const train = await this.open({ canSelectFiles: true, filters: { CSV: ['csv'] }, openLabel: t('Use this CSV') })(
      input,
    );
    return async (inner) => {
      const label = await inner.text({
        title: this.title(t('label column')),
        step: 2,
        totalSteps: TOTAL,
        value: this.s.data?.source === 'csv' ? String(this.s.data.label) : '-1',
        prompt: t('Header name, or 0-based index (-1 = last column)'),
        validate: (v) => (v.trim() === '' ? t('expected a header name or a column index') : undefined),
      });
      this.s.data = { source: 'csv', train, label: /^-?\d+$/.test(label.trim()) ? Number(label) : label.trim() };
      return this.unlabeled;
    };
  };

  images: Step = async (input) => {
    const train = await this.open({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: t('Use this training folder (one subfolder per class)'),
    })(input);
    const previous = this.s.data?.source === 'images' ? this.s.data : undefined;
    const testStep: Step = async (inner) => {
      const held = await inner.pick({
        title: this.title(t('test images')),
        step: 2,
        totalSteps: TOTAL,
        items: [
          { label: t('Hold out 20% of the training images'), value: 'fraction' as const },
          { label: t('A test folder…'), description: t('with the same class subfolders'), value: 'folder' as const },
        ],
        active: previous?.test ? 'folder' : 'fraction',
      });
      if (held === 'fraction') return sizeStep(undefined);
      return async (dialog) =>
        sizeStep(
          await this.open({ canSelectFolders: true, canSelectFiles: false, openLabel: t('Use this test folder') })(
            dialog,
          ),
        );
    };
    const sizeStep =
      (test: string | undefined): Step =>
      async (inner) => {
        const size = await inner.text({
          title: this.title(t('image size')),
          step: 2,
          totalSteps: TOTAL,
          value: previous ? `${previous.height}x${previous.width}` : '28x28',
          prompt: t('height x width in pixels that every image is resized to'),
          validate: (v) => (/^\s*[1-9]\d*\s*[x×]\s*[1-9]\d*\s*$/.test(v) ? undefined : t('expected e.g. 32x32')),
        });
        const [height, width] = size.split(/[x×]/).map((p) => Number(p.trim()));
        return async (last) => {
          const channels = await last.pick({
            title: this.title(t('colour')),
            step: 2,
            totalSteps: TOTAL,
            items: [
              { label: t('Grayscale'), description: t('one channel'), value: 'grayscale' as const },
              { label: t('RGB'), description: t('three channels'), value: 'rgb' as const },
            ],
            active: previous?.channels ?? 'grayscale',
          });
          this.s.data = { source: 'images', train, ...(test ? { test } : {}), height, width, channels };
          return this.unlabeled;
        };
      };
    return testStep;
  };

  npy: Step = async (input) => {
    const x = await this.open({
      canSelectFiles: true,
      filters: { NumPy: ['npy', 'npz'] },
      openLabel: t('Use these features (x)'),
    })(input);
    const layoutStep =
      (pair: { x: string; y: string; xKey?: string; yKey?: string }): Step =>
      async (inner) => {
        const layout = await inner.pick({
          title: this.title(t('image layout')),
          step: 2,
          totalSteps: TOTAL,
          placeholder: t('Only read for 4-D (image) arrays'),
          items: [
            { label: 'NHWC', description: t('channels last (TensorFlow, Keras)'), value: 'nhwc' as const },
            { label: 'NCHW', description: t('channels first (PyTorch)'), value: 'nchw' as const },
          ],
          active: this.s.data?.source === 'npy' ? this.s.data.layout : 'nhwc',
        });
        this.s.data = { source: 'npy', train: pair, layout };
        return this.unlabeled;
      };
    if (x.endsWith('.npz'))
      return async (inner) => {
        const keys = await inner.text({
          title: this.title(t('arrays in the .npz')),
          step: 2,
          totalSteps: TOTAL,
          value: 'x, y',
          prompt: t('the names of the features and the labels arrays, separated by a comma'),
          validate: (v) => (/^\s*[^,\s]+\s*,\s*[^,\s]+\s*$/.test(v) ? undefined : t('expected two names, e.g. x, y')),
        });
        const [xKey, yKey] = keys.split(',').map((k) => k.trim());
        return layoutStep({ x, y: x, xKey, yKey });
      };
    return async (inner) => {
      const y = await this.open({
        canSelectFiles: true,
        filters: { NumPy: ['npy'] },
        openLabel: t('Use these labels (y)'),
      })(inner);
      return layoutStep({ x, y });
    };
  };

  unlabeled: Step = async (input) => {
    const offered = unlabeledChoices();
    if (offered.length === 0) return this.teacherStep;
    const source = await input.pick<UnlabeledSource | 'none'>({
      title: this.title(t('unlabeled examples (optional)')),
      step: 3,
      totalSteps: TOTAL,
      placeholder: t('Examples without labels that the student also learns from the teacher on'),
      items: [
        { label: t('None'), description: t('labeled examples only'), value: 'none' },
        ...offered.map((value) => ({ label: UNLABELED_ITEMS[value], value })),
      ],
      active: this.s.unlabeledSource ?? 'none',
    });
    this.s.unlabeledSource = source === 'none' ? undefined : source;
    if (source === 'none') {
      this.s.unlabeled = undefined;
      return this.teacherStep;
    }
    return async (dialog) => {
      if (source === 'images') {
        const dir = await this.open({
          canSelectFolders: true,
          canSelectFiles: false,
          openLabel: t('Use every image under this folder'),
        })(dialog);
        this.s.unlabeled = { source, dir };
      } else {
        const filters: Record<UnlabeledSource, Record<string, string[]>> = {
          images: {},
          npy: { NumPy: ['npy', 'npz'] },
          idx: { IDX: ['gz', 'idx3-ubyte', 'ubyte'] },
          csv: { CSV: ['csv'] },
        };
        const file = await this.open({ canSelectFiles: true, filters: filters[source] })(dialog);
        this.s.unlabeled =
          source === 'npy' ? { source, x: file } : source === 'idx' ? { source, images: file } : { source, file };
      }
      return this.teacherStep;
    };
  };

  teacherStep: Step = async (input) => {
    const kinds = teacherChoices(this.s.data!);
    const kind = await input.pick({
      title: this.title(t('teacher')),
      step: 4,
      totalSteps: TOTAL,
      items: kinds.map((value) => ({ ...TEACHERS[value], value })),
      active: this.s.teacherKind,
    });
    this.s.teacherKind = kind;
    if (kind === 'demo') this.s.teacher = { source: 'demo' };
    else if (kind === 'cnn' || kind === 'mlp')
      this.s.teacher = { source: 'train', preset: kind, width: kind === 'cnn' ? 32 : 512 };
    else
      return async (dialog) => {
        const filters: Record<string, string[]> =
          kind === 'tfjs' ? { [t('TensorFlow.js model')]: ['json'] } : { [t('ONNX model')]: ['onnx'] };
        const file = await this.open({ canSelectFiles: true, filters })(dialog);
        this.s.teacher = kind === 'tfjs' ? { source: 'tfjs', path: file } : { source: 'onnx', path: file };
        return this.student;
      };
    return this.student;
  };

  student: Step = async (input) => {
    const presets = studentChoices(this.s.data!);
    const preset = await input.pick({
      title: this.title(t('student')),
      step: 5,
      totalSteps: TOTAL,
      items: [
        { label: 'MLP', description: t('one hidden dense layer'), value: 'mlp' as const },
        { label: 'CNN', description: t('one conv block'), value: 'cnn' as const },
      ].filter((i) => presets.includes(i.value)),
      active: this.s.student.preset,
    });
    return async (inner) => {
      const width = await inner.text({
        title: this.title(preset === 'mlp' ? t('student hidden units') : t('student conv channels')),
        step: 5,
        totalSteps: TOTAL,
        value: String(preset === this.s.student.preset ? this.s.student.width : preset === 'mlp' ? 64 : 8),
        validate: positiveInt,
      });
      this.s.student = { preset, width: Number(width) };
      return this.methodStep;
    };
  };

  methodStep: Step = async (input) => {
    const m = this.s.method;
    const id = await input.pick({
      title: this.title(t('method')),
      step: 6,
      totalSteps: TOTAL,
      items: methodChoices(this.s.student, this.s.teacher!).map((value) => ({ ...METHOD_ITEMS[value], value })),
      active: m.id,
    });
    m.id = id;
    if (id === 'kd') return this.kdParameters;
    if (id === 'label_smoothing')
      return async (inner) => {
        m.labelSmoothing = Number(
          await inner.text({
            title: this.title(t('label smoothing ε (0 to 1)')),
            step: 6,
            totalSteps: TOTAL,
            value: String(m.labelSmoothing),
            validate: (v) => numberIn(0, 0.99, false)(v),
          }),
        );
        return this.pseudoStep;
      };
    if (id === 'combined')
      return async (inner) => {
        m.terms = await inner.pickMany({
          title: this.title(t('loss terms')),
          step: 6,
          totalSteps: TOTAL,
          placeholder: t('Added to the hard-label loss with their default weights (edit them in the config)'),
          items: termChoices(this.s.student, this.s.teacher!).map((value) => ({ label: TERM_ITEMS[value], value })),
          selected: m.terms,
        });
        return this.layerSteps();
      };
    return this.layerSteps();
  };

  kdParameters: Step = async (input) => {
    const m = this.s.method;
    m.temperature = Number(
      await input.text({
        title: this.title(t('temperature T (> 0)')),
        step: 6,
        totalSteps: TOTAL,
        value: String(m.temperature),
        validate: numberIn(0, Number.MAX_VALUE, true),
      }),
    );
    return async (inner) => {
      m.alpha = Number(
        await inner.text({
          title: this.title(t('alpha, the weight of the hard-label loss (0 to 1)')),
          step: 6,
          totalSteps: TOTAL,
          value: String(m.alpha),
          validate: numberIn(0, 1, false),
        }),
      );
      return this.pseudoStep;
    };
  };

  /** Hint and attention name a student and a teacher layer: picked from the models' layer names. */
  private layerSteps(): Step {
    const m = this.s.method;
    const terms = m.id === 'combined' ? m.terms : [m.id];
    const kinds = (['hint', 'attention'] as const).filter((k) => terms.includes(k));
    const steps = kinds.map((kind) => this.layerStep(kind));
    const chain = (i: number): Step =>
      i >= steps.length ? this.pseudoStep : async (input) => steps[i](input, chain(i + 1));
    return chain(0);
  }

  private layerStep(kind: 'hint' | 'attention'): (input: MultiStepInput, next: Step) => Promise<Step> {
    return async (input, next) => {
      const a = { data: this.s.data!, student: this.s.student, teacher: this.s.teacher! };
      const studentLayers = studentLayerNames(a);
      let teacherLayers: string[] | undefined;
      try {
        teacherLayers = teacherLayerNames(a, demoTeacherPath());
      } catch {
        teacherLayers = undefined; // an unreadable model.json: the user types the name
      }
      const fallback = defaultLayerPair(kind, studentLayers, teacherLayers);
      const current: LayerPair = this.s.method[kind] ?? fallback;
      const what = kind === 'hint' ? t('hint') : t('attention');
      const usable = (n: string) =>
        kind === 'attention' ? n.startsWith('conv2d_') || n.startsWith('maxpool_') : n !== 'logits';
      const student = await input.pick({
        title: this.title(t('{0}: student layer', what)),
        step: 6,
        totalSteps: TOTAL,
        items: studentLayers.filter(usable).map((value) => ({ label: value, value })),
        active: current.student,
      });
      return async (inner) => {
        const teacher = teacherLayers
          ? await inner.pick({
              title: this.title(t('{0}: teacher layer', what)),
              step: 6,
              totalSteps: TOTAL,
              items: teacherLayers.filter(usable).map((value) => ({ label: value, value })),
              active: teacherLayers.includes(student) ? student : current.teacher,
            })
          : await inner.text({
              title: this.title(t('{0}: teacher value', what)),
              step: 6,
              totalSteps: TOTAL,
              value: current.teacher,
              prompt: t('The name of an ONNX value of the teacher (e.g. /layer2/Relu_output_0)'),
              validate: (v) => (v.trim() ? undefined : t('expected the name of a value in the ONNX graph')),
            });
        this.s.method[kind] = { student, teacher: teacher.trim() };
        return next;
      };
    };
  }

  /** With unlabeled examples and a teacher-reading method: the teacher's confident classes as labels. */
  pseudoStep: Step = async (input) => {
    const m = this.s.method;
    if (!pseudoLabelsPossible({ unlabeled: this.s.unlabeled, method: m })) return this.strategyStep;
    const on = await input.pick({
      title: this.title(t('pseudo-labels')),
      step: 6,
      totalSteps: TOTAL,
      placeholder: t("Unlabeled examples the teacher is sure of join the hard-label loss with the teacher's class"),
      items: [
        { label: t('No pseudo-labels'), description: t('unlabeled examples feed the soft targets only'), value: false },
        { label: t('Pseudo-labels (Lee 2013)…'), description: t('above a confidence threshold'), value: true },
      ],
      active: m.pseudoLabels !== undefined,
    });
    if (!on) {
      m.pseudoLabels = undefined;
      return this.strategyStep;
    }
    return async (inner) => {
      m.pseudoLabels = Number(
        await inner.text({
          title: this.title(t("pseudo-labels: the teacher's smallest confidence (0 to 1)")),
          step: 6,
          totalSteps: TOTAL,
          value: String(m.pseudoLabels ?? 0.9),
          validate: numberIn(0, 1, false),
        }),
      );
      return this.strategyStep;
    };
  };

  strategyStep: Step = async (input) => {
    const offered = strategyChoices(this.s.method);
    const active = offered.includes(this.s.strategy) ? this.s.strategy : 'single';
    this.s.strategy = await input.pick({
      title: this.title(t('strategy')),
      step: 7,
      totalSteps: TOTAL,
      items: offered.map((value) => ({ ...STRATEGY_ITEMS[value], value })),
      active,
    });
    return this.epochsStep;
  };

  epochsStep: Step = async (input) => {
    this.s.epochs = Number(
      await input.text({
        title: this.title(t('epochs')),
        step: 8,
        totalSteps: TOTAL,
        value: String(this.s.epochs),
        validate: positiveInt,
      }),
    );
    return this.summary;
  };

  /** The config as it will be written, one line per section; a line goes back to its step. */
  summary: Step = async (input) => {
    const a = answers(this.s);
    const config = scaffoldConfig(this.s.folder, a) as Record<string, unknown>;
    const problems = scaffoldProblems(this.s.folder, a);
    const stepOf: Record<string, Step> = {
      name: this.name,
      data: this.data,
      teacher: this.teacherStep,
      student: this.student,
      distill: this.methodStep,
      strategy: this.strategyStep,
      train: this.epochsStep,
    };
    type Choice = { create: true } | { create: false; step?: Step };
    const file = `${a.name}.distill.json`;
    const items: Array<PickItem<Choice>> = [
      ...(problems.length === 0
        ? [
            {
              label: `$(check) ${t('Create {0}', file)}`,
              description: this.s.folder,
              value: { create: true } as Choice,
            },
          ]
        : problems.map((p) => ({ label: `$(error) ${p}`, value: { create: false } as Choice }))),
      { label: t('Summary'), kind: vscode.QuickPickItemKind.Separator, value: { create: false } },
      ...Object.entries(config).map(([key, value]) => ({
        label: key,
        description: typeof value === 'object' ? JSON.stringify(value) : String(value),
        value: { create: false, step: stepOf[key] } as Choice,
      })),
    ];
    const chosen = await input.pick({
      title: this.title(t('summary')),
      step: 9,
      totalSteps: TOTAL,
      placeholder: problems.length
        ? t('Go back to fix the answers above')
        : t('Create the config, or pick a line to change it'),
      items,
      matchOnDescription: false,
    });
    if (chosen.create) {
      this.s.written = writeScaffold(this.s.folder, a);
      return;
    }
    return chosen.step ?? this.summary;
  };
}

export async function newProjectFlow(): Promise<string | undefined> {
  const folder = await chooseFolder();
  if (!folder) return undefined;
  const s: State = {
    folder,
    name: 'kd',
    dataSource: 'demo',
    teacherKind: 'demo',
    student: { preset: 'mlp', width: 64 },
    method: { ...DEFAULT_METHOD, terms: [...DEFAULT_METHOD.terms] },
    strategy: 'single',
    epochs: 30,
  };
  const wizard = new Wizard(s);
  const finished = await MultiStepInput.run(wizard.name);
  return finished ? s.written : undefined;
}
