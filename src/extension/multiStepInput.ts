/**
 * A multi-step quick input with a Back button (the pattern of VS Code's "multiStepInput" sample):
 * each step is a function that shows one picker or input box and returns the next step. Back
 * re-runs the previous step; Escape ends the flow with nothing written.
 */
import * as vscode from 'vscode';

export type Step = (input: MultiStepInput) => Promise<Step | void>;

class FlowAction {
  static readonly back = new FlowAction();
  static readonly cancel = new FlowAction();
}

export type PickItem<T> = vscode.QuickPickItem & { value: T };

interface Common {
  title: string;
  step: number;
  totalSteps: number;
  placeholder?: string;
}

export class MultiStepInput {
  private readonly steps: Step[] = [];
  private current?: vscode.QuickInput;

  /** Runs the flow from `start`; resolves true when the last step finished, false on Escape. */
  static async run(start: Step): Promise<boolean> {
    return new MultiStepInput().stepThrough(start);
  }

  private async stepThrough(start: Step): Promise<boolean> {
    let step: Step | void = start;
    while (step) {
      this.steps.push(step);
      if (this.current) {
        this.current.enabled = false;
        this.current.busy = true;
      }
      try {
        step = await step(this);
      } catch (err) {
        if (err === FlowAction.back) {
          this.steps.pop();
          step = this.steps.pop();
        } else if (err === FlowAction.cancel) {
          this.current?.dispose();
          return false;
        } else {
          this.current?.dispose();
          throw err;
        }
      }
    }
    this.current?.dispose();
    return true;
  }

  /** A step that is not a quick input (a file dialog): cancelling it goes back one step. */
  async dialog<T>(open: () => Thenable<T | undefined>): Promise<T> {
    this.current?.dispose();
    this.current = undefined;
    const chosen = await open();
    if (chosen === undefined) throw FlowAction.back;
    return chosen;
  }

  /** Whether Back makes sense here (not on the first step). */
  private get canGoBack(): boolean {
    return this.steps.length > 1;
  }

  private show<I extends vscode.QuickInput>(input: I): void {
    this.current?.dispose();
    this.current = input;
    input.show();
  }

  async pick<T>(
    o: Common & { items: Array<PickItem<T>>; active?: T; canPickMany?: false; matchOnDescription?: boolean },
  ): Promise<T> {
    const disposables: vscode.Disposable[] = [];
    try {
      return await new Promise<T>((resolve, reject) => {
        const input = vscode.window.createQuickPick<PickItem<T>>();
        input.title = o.title;
        input.step = o.step;
        input.totalSteps = o.totalSteps;
        input.placeholder = o.placeholder;
        input.ignoreFocusOut = true;
        input.matchOnDescription = o.matchOnDescription ?? true;
        input.items = o.items;
        const active = o.items.find((i) => i.value === o.active);
        if (active) input.activeItems = [active];
        input.buttons = this.canGoBack ? [vscode.QuickInputButtons.Back] : [];
        disposables.push(
          input.onDidTriggerButton((b) => {
            if (b === vscode.QuickInputButtons.Back) reject(FlowAction.back);
          }),
          input.onDidAccept(() => {
            const chosen = input.selectedItems[0] ?? input.activeItems[0];
            if (chosen) resolve(chosen.value);
          }),
          input.onDidHide(() => reject(FlowAction.cancel)),
        );
        this.show(input);
      });
    } finally {
      disposables.forEach((d) => d.dispose());
    }
  }

  async pickMany<T>(o: Common & { items: Array<PickItem<T>>; selected: T[] }): Promise<T[]> {
    const disposables: vscode.Disposable[] = [];
    try {
      return await new Promise<T[]>((resolve, reject) => {
        const input = vscode.window.createQuickPick<PickItem<T>>();
        input.title = o.title;
        input.step = o.step;
        input.totalSteps = o.totalSteps;
        input.placeholder = o.placeholder;
        input.ignoreFocusOut = true;
        input.canSelectMany = true;
        input.items = o.items;
        input.selectedItems = o.items.filter((i) => o.selected.includes(i.value));
        input.buttons = this.canGoBack ? [vscode.QuickInputButtons.Back] : [];
        disposables.push(
          input.onDidTriggerButton((b) => {
            if (b === vscode.QuickInputButtons.Back) reject(FlowAction.back);
          }),
          input.onDidAccept(() => {
            if (input.selectedItems.length > 0) resolve(input.selectedItems.map((i) => i.value));
          }),
          input.onDidHide(() => reject(FlowAction.cancel)),
        );
        this.show(input);
      });
    } finally {
      disposables.forEach((d) => d.dispose());
    }
  }

  async text(
    o: Common & { value: string; prompt?: string; validate: (v: string) => string | undefined },
  ): Promise<string> {
    const disposables: vscode.Disposable[] = [];
    try {
      return await new Promise<string>((resolve, reject) => {
        const input = vscode.window.createInputBox();
        input.title = o.title;
        input.step = o.step;
        input.totalSteps = o.totalSteps;
        input.value = o.value;
        input.prompt = o.prompt;
        input.placeholder = o.placeholder;
        input.ignoreFocusOut = true;
        input.buttons = this.canGoBack ? [vscode.QuickInputButtons.Back] : [];
        const check = () => (input.validationMessage = o.validate(input.value));
        check();
        disposables.push(
          input.onDidTriggerButton((b) => {
            if (b === vscode.QuickInputButtons.Back) reject(FlowAction.back);
          }),
          input.onDidChangeValue(check),
          input.onDidAccept(() => {
            if (!check()) resolve(input.value);
          }),
          input.onDidHide(() => reject(FlowAction.cancel)),
        );
        this.show(input);
      });
    } finally {
      disposables.forEach((d) => d.dispose());
    }
  }
}
