/**
 * Shell completion scripts for bash and zsh, generated from the same tables that print `--help`: the
 * commands with their summaries and option lists, and each option's spec (short name, value, choices).
 * `registry-push` and `registry-pruner` share it (`@registry-push/core/completion`), so their scripts
 * behave alike.
 *
 * @packageDocumentation
 */

/** One option as completion needs it. */
export interface CompletionOption {
  name: string;
  short?: string;
  /** One line of help (zsh shows it). */
  help: string;
  /** Whether the option takes a value, and its placeholder (FILE, DIR, PATH complete file names). */
  value?: string;
  /** The allowed values, completed after the option. */
  choices?: readonly string[];
}

/** One subcommand with its options. */
export interface CompletionCommand {
  name: string;
  summary: string;
  options: readonly CompletionOption[];
  /** Words it takes as arguments (e.g. the shells of `completion`). */
  arguments?: readonly string[];
}

/** A program: its subcommands and the options it takes before any command (e.g. --help, --version). */
export interface CompletionSpec {
  program: string;
  commands: readonly CompletionCommand[];
  globalOptions: readonly CompletionOption[];
}

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** `registry-push` → `_registry_push`. */
const functionName = (program: string): string => `_${program.replace(/[^A-Za-z0-9]/g, '_')}`;

/** Values that name files or directories. */
const FILE_VALUES = new Set(['FILE', 'PATH']);
const DIR_VALUES = new Set(['DIR']);

/** Single-quoted for a POSIX shell. */
const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

const flags = (option: CompletionOption): string[] => [
  `--${option.name}`,
  ...(option.short === undefined ? [] : [`-${option.short}`]),
];

function bashValueCase(options: readonly CompletionOption[]): string[] {
  const byAction = new Map<string, string[]>();
  for (const option of options) {
    if (option.value === undefined) continue;
    const action =
      option.choices !== undefined
        ? `COMPREPLY=($(compgen -W ${quote(option.choices.join(' '))} -- "$cur"))`
        : FILE_VALUES.has(option.value)
          ? 'COMPREPLY=($(compgen -f -- "$cur"))'
          : DIR_VALUES.has(option.value)
            ? 'COMPREPLY=($(compgen -d -- "$cur"))'
            : 'COMPREPLY=()';
    byAction.set(action, [...(byAction.get(action) ?? []), ...flags(option)]);
  }
  return [...byAction.entries()].map(
    ([action, names]) => `    ${[...new Set(names)].join('|')}) ${action}; return ;;`,
  );
}

function bashScript(spec: CompletionSpec): string {
  const fn = functionName(spec.program);
  const allOptions = [...spec.globalOptions, ...spec.commands.flatMap((command) => command.options)];
  const unique = [...new Map(allOptions.map((option) => [option.name, option])).values()];
  const commandCases = spec.commands.map(
    (command) =>
      `    ${command.name}) words=${quote([...(command.arguments ?? []), ...command.options.map((option) => `--${option.name}`)].join(' '))} ;;`,
  );
  return `# bash completion for ${spec.program}, generated from its option tables by \`${spec.program} completion bash\`.
# Load it with: source <(${spec.program} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" words=""
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -le 1 ]; then
    COMPREPLY=($(compgen -W ${quote([...spec.commands.map((c) => c.name), ...spec.globalOptions.flatMap(flags)].join(' '))} -- "$cur"))
    return
  fi
  case "$prev" in
${bashValueCase(unique).join('\n')}
  esac
  case "\${COMP_WORDS[1]}" in
${commandCases.join('\n')}
    *) return ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ${fn} ${spec.program}
`;
}

/** Text inside a zsh `_arguments` spec: brackets and colons are syntax there. */
const zshText = (text: string): string => text.replace(/([[\]:\\])/g, '\\$1');

function zshOptionSpec(option: CompletionOption): string {
  const description = `[${zshText(option.help)}]`;
  let argument = '';
  if (option.value !== undefined) {
    const action =
      option.choices !== undefined
        ? `(${option.choices.join(' ')})`
        : FILE_VALUES.has(option.value)
          ? '_files'
          : DIR_VALUES.has(option.value)
            ? '_files -/'
            : ' ';
    argument = `:${zshText(option.value)}:${action}`;
  }
  if (option.short === undefined) return quote(`--${option.name}${description}${argument}`);
  const exclusive = `(-${option.short} --${option.name})`;
  return `${quote(exclusive)}{-${option.short},--${option.name}}${quote(`${description}${argument}`)}`;
}

function zshScript(spec: CompletionSpec): string {
  const fn = functionName(spec.program);
  const commands = spec.commands.map((command) => `    ${quote(`${command.name}:${command.summary}`)}`);
  const cases = spec.commands.map(
    (command) =>
      `    ${command.name})\n      _arguments -s \\\n${[
        ...command.options.map(zshOptionSpec),
        ...(command.arguments === undefined ? [] : [quote(`1:argument:(${command.arguments.join(' ')})`)]),
      ]
        .map((line) => `        ${line}`)
        .join(' \\\n')}\n      ;;`,
  );
  return `#compdef ${spec.program}
# zsh completion for ${spec.program}, generated from its option tables by \`${spec.program} completion zsh\`.
# Load it with: source <(${spec.program} completion zsh)   (after compinit), or save it as _${spec.program} in $fpath.
${fn}() {
  local -a commands
  commands=(
${commands.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'command' commands
    _arguments ${spec.globalOptions.map(zshOptionSpec).join(' ')}
    return
  fi
  local command=$words[2]
  shift words
  (( CURRENT-- ))
  case $command in
${cases.join('\n')}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${spec.program}
fi
`;
}

/** The completion script of `spec` for `shell`. */
export function completionScript(spec: CompletionSpec, shell: CompletionShell): string {
  return shell === 'bash' ? bashScript(spec) : zshScript(spec);
}
