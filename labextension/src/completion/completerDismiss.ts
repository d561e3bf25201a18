// Esc dismisses a shown ghost text and keeps the cell in edit mode.
//
// JupyterLab 4.6 has no dismiss command for the inline completer: Esc falls
// through to the notebook, which leaves edit mode (the blur then clears the
// ghost). The completer widgets are only reachable through the factory the
// completion manager builds them with, so that factory is decorated to keep
// track of them; dismissing resets the widget's model, which removes the
// ghost and the `jp-mod-inline-completer-active` class (Tab indents again).
import type { IInlineCompleterFactory, InlineCompleter } from '@jupyterlab/completer';
import type { CommandRegistry } from '@lumino/commands';

export const DISMISS_COMMAND = 'jupyter-assist:dismiss-inline-completion';

/** The class JupyterLab puts on an editor's host while it shows ghost text. */
const ACTIVE_SELECTOR = '.jp-mod-inline-completer-active';

/** What Esc does in a notebook's edit mode when nothing else takes it. */
const COMMAND_MODE = 'notebook:enter-command-mode';

/**
 * Record every inline completer `factory` builds from now on. The object is
 * decorated in place: it is the one the completion manager holds, whichever
 * plugin activates first, and handlers are only created once notebooks open.
 */
function trackCompleters(factory: IInlineCompleterFactory): Set<InlineCompleter> {
  const completers = new Set<InlineCompleter>();
  const build = factory.factory.bind(factory);
  factory.factory = options => {
    const completer = build(options);
    completers.add(completer);
    completer.disposed.connect(() => completers.delete(completer));
    return completer;
  };
  return completers;
}

/** The completer showing ghost text in the focused editor, if any. */
function focusedActive(completers: Set<InlineCompleter>): InlineCompleter | null {
  for (const completer of completers) {
    if (completer.isActive && completer.editor?.hasFocus()) {
      return completer;
    }
  }
  return null;
}

/**
 * Add the dismiss command and bind Esc to it while a ghost text is shown;
 * `onDismiss` runs after each dismissal (e.g. cancel the provider's request).
 */
export function addGhostDismiss(
  commands: CommandRegistry,
  factory: IInlineCompleterFactory,
  onDismiss: () => void
): void {
  const completers = trackCompleters(factory);
  commands.addCommand(DISMISS_COMMAND, {
    label: 'Dismiss Inline Completion',
    caption: 'Hide the ghost text and stay in the editor',
    execute: async () => {
      const completer = focusedActive(completers);
      if (completer) {
        completer.model?.reset();
        onDismiss();
        return;
      }
      // A ghost from a completer built elsewhere (another extension replaced
      // the factory): the binding took Esc, so do what Esc would have done.
      if (document.activeElement?.closest('.jp-Notebook.jp-mod-editMode')) {
        await commands.execute(COMMAND_MODE);
      }
    }
  });
  // Matched at the editor, closer to the key's target than the notebook's
  // own Esc binding, so it wins while (and only while) the class is there.
  commands.addKeyBinding({
    command: DISMISS_COMMAND,
    keys: ['Escape'],
    selector: ACTIVE_SELECTOR
  });
}
