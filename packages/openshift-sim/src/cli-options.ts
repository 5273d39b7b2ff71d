// The options of `openshift-sim start`, in one table: parsing (node:util parseArgs reads the same objects),
// `--help` and the bash and zsh completion scripts (`openshift-sim completion bash|zsh`) are made from it.

/** One option: how it parses, and what help and completion show. */
interface SimOption {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder in help; DIR completes directories. */
  value?: string;
  help: string;
  choices?: readonly string[];
}

export const START_OPTIONS = {
  dir: {
    type: 'string',
    value: 'DIR',
    help: 'where to write kubeconfig, users/*.kubeconfig, ingress-ca.crt (required)',
  },
  'apps-domain': {
    type: 'string',
    value: 'DOMAIN',
    help: 'apps domain (default apps.sim-<random>.test, unique per simulator)',
  },
  'management-state': {
    type: 'string',
    value: 'STATE',
    choices: ['Managed', 'Removed', 'Unmanaged'],
    help: 'Managed (default), Removed or Unmanaged',
  },
  storage: {
    type: 'string',
    value: 'KIND',
    choices: ['emptyDir', 'pvc', 'none'],
    help: 'emptyDir (default), pvc or none (none bootstraps Removed)',
  },
  'read-only': { type: 'boolean', help: 'start the registry read-only' },
  'default-route': { type: 'boolean', help: 'start with spec.defaultRoute: true' },
  'custom-default-certificate': {
    type: 'boolean',
    help: 'serve an admin-provided default certificate (no router-certs-default)',
  },
  'route-admission-delay': {
    type: 'string',
    value: 'MS',
    help: 'delay before the router admits a route (default 0)',
  },
  user: {
    type: 'string',
    multiple: true,
    value: 'NAME=ROLE[@NS][,ROLE[@NS]]',
    help: 'an extra user, e.g. pruner=system:image-pruner or ci=edit@demo (repeatable)',
  },
  namespace: { type: 'string', multiple: true, value: 'NS', help: 'an extra namespace (repeatable)' },
  'api-port': { type: 'string', value: 'PORT', help: 'API server port (default: a free one)' },
  'router-mode': {
    type: 'string',
    value: 'MODE',
    choices: ['hosts', 'port', 'auto'],
    help:
      'hosts (route hosts in /etc/hosts, router on :443; needs root), port\n' +
      '(router on 127.0.0.1:<free port>) or auto (default: hosts when root)',
  },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<string, SimOption>;

type StartOption = keyof typeof START_OPTIONS;
const entries = (): [StartOption, SimOption][] => Object.entries(START_OPTIONS) as [StartOption, SimOption][];

/** `--help`: the usage lines, then one line per option (continuation lines indented under the help). */
export function usage(): string {
  const lines = entries().map(([name, option]) => {
    const flag = `${option.short === undefined ? '' : `-${option.short}, `}--${name}${option.value === undefined ? '' : ` ${option.value}`}`;
    const [first, ...rest] = option.help.split('\n');
    return [`  ${flag.padEnd(32)} ${first ?? ''}`, ...rest.map((line) => `${' '.repeat(35)}${line}`)].join(
      '\n',
    );
  });
  return `usage: openshift-sim start --dir DIR [options]
       openshift-sim --version | -V
       openshift-sim completion bash|zsh

Runs a simulated OpenShift on 127.0.0.1 until SIGTERM or SIGINT. When ready it prints one JSON line
(apiServer, kubeconfig, users, appsDomain, routerAddress, internalRegistry, ingressCA) and writes the
kubeconfigs and CA files under DIR.

options:
${lines.join('\n')}
`;
}

const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
const SHELLS = ['bash', 'zsh'] as const;
const TOP_LEVEL = ['start', 'completion', '--help', '-h', '--version', '-V'];

function bash(): string {
  const groups = new Map<string, string[]>();
  for (const [name, option] of entries()) {
    if (option.type !== 'string') continue;
    const action =
      option.choices !== undefined
        ? `COMPREPLY=($(compgen -W ${quote(option.choices.join(' '))} -- "$cur"))`
        : option.value === 'DIR'
          ? 'COMPREPLY=($(compgen -d -- "$cur"))'
          : 'COMPREPLY=()';
    groups.set(action, [...(groups.get(action) ?? []), `--${name}`]);
  }
  const values = [...groups].map(([action, names]) => `    ${names.join('|')}) ${action}; return ;;`);
  const flags = entries().flatMap(([name, option]) => [
    `--${name}`,
    ...(option.short === undefined ? [] : [`-${option.short}`]),
  ]);
  return `# bash completion for openshift-sim, generated from its option table by \`openshift-sim completion bash\`.
_openshift_sim() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev=""
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -le 1 ]; then
    COMPREPLY=($(compgen -W ${quote(TOP_LEVEL.join(' '))} -- "$cur"))
    return
  fi
  case "$prev" in
${values.join('\n')}
  esac
  case "\${COMP_WORDS[1]}" in
    start) COMPREPLY=($(compgen -W ${quote(flags.join(' '))} -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W ${quote(SHELLS.join(' '))} -- "$cur")) ;;
  esac
}
complete -F _openshift_sim openshift-sim
`;
}

const zshText = (text: string): string => text.replace(/\n/g, ' ').replace(/([[\]:\\])/g, '\\$1');

function zsh(): string {
  const specs = entries().map(([name, option]) => {
    const action =
      option.choices !== undefined
        ? `(${option.choices.join(' ')})`
        : option.value === 'DIR'
          ? '_files -/'
          : ' ';
    const argument = option.value === undefined ? '' : `:${zshText(option.value)}:${action}`;
    const repeat = option.multiple === true ? '*' : '';
    const spec = `[${zshText(option.help)}]${argument}`;
    return option.short === undefined
      ? quote(`${repeat}--${name}${spec}`)
      : `${quote(`(-${option.short} --${name})`)}{-${option.short},--${name}}${quote(spec)}`;
  });
  return `#compdef openshift-sim
# zsh completion for openshift-sim, generated from its option table by \`openshift-sim completion zsh\`.
_openshift_sim() {
  if (( CURRENT == 2 )); then
    compadd -- ${TOP_LEVEL.join(' ')}
    return
  fi
  case $words[2] in
    start)
      shift words
      (( CURRENT-- ))
      _arguments -s \\
${specs.map((spec) => `        ${spec}`).join(' \\\n')}
      ;;
    completion) compadd -- ${SHELLS.join(' ')} ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _openshift_sim "$@"
else
  compdef _openshift_sim openshift-sim
fi
`;
}

/** The completion script for `shell`, or undefined for a shell it does not know. */
export function completionScript(shell: string | undefined): string | undefined {
  if (shell === 'bash') return bash();
  if (shell === 'zsh') return zsh();
  return undefined;
}
