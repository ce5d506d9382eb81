/** "Distill: New Distillation Project": quick picks and inputs; Escape at any step writes nothing. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeScaffold, type ScaffoldAnswers } from './scaffold.ts';

type Pick<T> = vscode.QuickPickItem & { value: T };

async function pick<T>(title: string, items: Array<Pick<T>>, step: number): Promise<T | undefined> {
  const chosen = await vscode.window.showQuickPick(items, {
    title: `New Distillation Project (${step}/8): ${title}`,
    ignoreFocusOut: true,
  });
  return chosen?.value;
}

async function number(
  title: string,
  value: number,
  step: number,
  check: (n: number) => string | undefined,
): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: `New Distillation Project (${step}/8): ${title}`,
    value: String(value),
    ignoreFocusOut: true,
    validateInput: (t) => (t.trim() === '' || Number.isNaN(Number(t)) ? 'a number' : check(Number(t))),
  });
  return text === undefined ? undefined : Number(text);
}

async function chooseFolder(): Promise<string | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 1) return folders[0].uri.fsPath;
  if (folders.length > 1)
    return (await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Folder for the new config' }))?.uri.fsPath;
  return (
    await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: 'Create the config here',
    })
  )?.[0]?.fsPath;
}

export async function newProjectFlow(): Promise<string | undefined> {
  const folder = await chooseFolder();
  if (!folder) return undefined;
  const name = await vscode.window.showInputBox({
    title: 'New Distillation Project (1/8): name',
    value: 'kd',
    prompt: `Writes <name>.distill.json in ${folder}`,
    ignoreFocusOut: true,
    validateInput: (t) =>
      !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(t)
        ? 'letters, digits, ".", "_" or "-", starting with a letter or digit'
        : fs.existsSync(path.join(folder, `${t}.distill.json`))
          ? `${t}.distill.json already exists`
          : undefined,
  });
  if (!name) return undefined;

  const dataKind = await pick(
    'data',
    [
      {
        label: 'Embedded demo',
        description: 'Fashion-MNIST subset shipped with Distill Studio (2,000 training images used)',
        value: 'demo' as const,
      },
      { label: 'IDX folder…', description: 'MNIST / Fashion-MNIST format, standard file names', value: 'idx' as const },
      { label: 'CSV file…', description: 'numeric features and a label column', value: 'csv' as const },
    ],
    2,
  );
  if (!dataKind) return undefined;
  let data: ScaffoldAnswers['data'];
  if (dataKind === 'demo') data = { source: 'demo' };
  else if (dataKind === 'idx') {
    const dir = (
      await vscode.window.showOpenDialog({
        canSelectFolders: true,
        canSelectFiles: false,
        defaultUri: vscode.Uri.file(folder),
        openLabel: 'Use this IDX folder',
      })
    )?.[0];
    if (!dir) return undefined;
    data = { source: 'idx', dir: dir.fsPath };
  } else {
    const file = (
      await vscode.window.showOpenDialog({
        canSelectFiles: true,
        filters: { CSV: ['csv'] },
        defaultUri: vscode.Uri.file(folder),
        openLabel: 'Use this CSV',
      })
    )?.[0];
    if (!file) return undefined;
    const label = await vscode.window.showInputBox({
      title: 'New Distillation Project: label column',
      value: '-1',
      prompt: 'Header name, or 0-based index (-1 = last column)',
      ignoreFocusOut: true,
    });
    if (label === undefined) return undefined;
    data = { source: 'csv', train: file.fsPath, label: /^-?\d+$/.test(label.trim()) ? Number(label) : label.trim() };
  }

  const teacherKind = await pick(
    'teacher',
    [
      ...(dataKind === 'demo'
        ? [
            {
              label: 'Embedded demo CNN',
              description: '421,642 parameters, 91.7% on Fashion-MNIST',
              value: 'demo' as const,
            },
          ]
        : []),
      { label: 'TensorFlow.js model…', description: 'a model.json with its weights', value: 'tfjs' as const },
      { label: 'ONNX model…', description: 'e.g. exported from PyTorch; run by onnxruntime', value: 'onnx' as const },
      { label: 'Train a CNN here', description: 'needs image data; trained before distilling', value: 'cnn' as const },
      { label: 'Train an MLP here', description: 'trained before distilling', value: 'mlp' as const },
    ],
    3,
  );
  if (!teacherKind) return undefined;
  let teacher: ScaffoldAnswers['teacher'];
  if (teacherKind === 'demo') teacher = { source: 'demo' };
  else if (teacherKind === 'tfjs' || teacherKind === 'onnx') {
    const filters: Record<string, string[]> =
      teacherKind === 'tfjs' ? { 'TensorFlow.js model': ['json'] } : { 'ONNX model': ['onnx'] };
    const file = (
      await vscode.window.showOpenDialog({ canSelectFiles: true, filters, defaultUri: vscode.Uri.file(folder) })
    )?.[0];
    if (!file) return undefined;
    teacher = teacherKind === 'tfjs' ? { source: 'tfjs', path: file.fsPath } : { source: 'onnx', path: file.fsPath };
  } else teacher = { source: 'train', preset: teacherKind, width: teacherKind === 'cnn' ? 32 : 512 };

  const preset = await pick(
    'student',
    [
      { label: 'MLP', description: 'one hidden dense layer', value: 'mlp' as const },
      ...(dataKind !== 'csv' ? [{ label: 'CNN', description: 'one conv block', value: 'cnn' as const }] : []),
    ],
    4,
  );
  if (!preset) return undefined;
  const width = await number(
    preset === 'mlp' ? 'student hidden units' : 'student conv channels',
    preset === 'mlp' ? 64 : 8,
    5,
    (n) => (Number.isInteger(n) && n > 0 ? undefined : 'a positive integer'),
  );
  if (width === undefined) return undefined;

  const method = await pick(
    'method',
    [
      {
        label: 'Knowledge distillation (Hinton et al. 2015)',
        description: 'soft targets at temperature T plus hard labels',
        value: 'kd' as const,
      },
      { label: 'None', description: 'labels only: the student alone', value: 'none' as const },
    ],
    6,
  );
  if (!method) return undefined;
  let temperature = 2;
  let alpha = 0.1;
  if (method === 'kd') {
    const t = await number('temperature T (> 0)', temperature, 7, (n) =>
      n > 0 ? undefined : 'a number greater than 0',
    );
    if (t === undefined) return undefined;
    const a = await number('alpha, the weight of the hard-label loss (0 to 1)', alpha, 7, (n) =>
      n >= 0 && n <= 1 ? undefined : 'a number from 0 to 1',
    );
    if (a === undefined) return undefined;
    temperature = t;
    alpha = a;
  }
  const epochs = await number('epochs', 30, 8, (n) =>
    Number.isInteger(n) && n > 0 ? undefined : 'a positive integer',
  );
  if (epochs === undefined) return undefined;

  return writeScaffold(folder, { name, data, teacher, student: { preset, width }, method, temperature, alpha, epochs });
}
