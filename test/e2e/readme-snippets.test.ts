// Every ```ts block of every README compiles against the packages' real (built) exports, with the repo's
// compiler options, so the documented API cannot drift from the code. A block is a module of its own; names it
// takes as given (a token, a client, ...) are declared in an HTML comment right above it, invisible on GitHub:
//
//   <!-- ts-prelude: import { createReadStream } from 'node:fs'; declare const token: string; -->
//   ```ts
//
// Type-checking only: nothing runs. The packages resolve through node_modules to their dist/ (test's build
// dependencies), exactly as for a user of the published packages.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const here = dirname(fileURLToPath(import.meta.url));

interface Snippet {
  readme: string;
  line: number;
  prelude: string;
  code: string;
}

/** README.md at the root and in every workspace directory (packages/*, actions/*, services/*). */
function readmes(): string[] {
  const files = [join(root, 'README.md')];
  for (const parent of ['packages', 'actions', 'services']) {
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const file = join(root, parent, entry.name, 'README.md');
      if (entry.isDirectory() && existsSync(file)) files.push(file);
    }
  }
  return files;
}

/** The ```ts blocks of a markdown file, each with the ts-prelude comment right above it, if any. */
function extractSnippets(file: string, text: string): Snippet[] {
  const snippets: Snippet[] = [];
  const block = /(?:<!--\s*ts-prelude:([\s\S]*?)-->\s*\n)?```(?:ts|typescript)\n([\s\S]*?)```/g;
  for (const match of text.matchAll(block)) {
    snippets.push({
      readme: relative(root, file),
      // The first code line: below the fence, which is below the prelude comment if there is one.
      line: text.slice(0, match.index).split('\n').length + (match[1] === undefined ? 1 : 2),
      prelude: (match[1] ?? '').trim(),
      code: match[2] ?? '',
    });
  }
  return snippets;
}

/** Type-check the snippets as modules in test/ (test/package.json makes them ESM); one line per error. */
function typecheck(snippets: Snippet[]): string[] {
  const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, root);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
  };
  // Virtual files next to this test; the prelude goes on the snippet's first line so line numbers stay right.
  const files = new Map(
    snippets.map((snippet, i) => [
      join(here, `readme-snippet-${i}.ts`),
      { snippet, text: `${snippet.prelude} ${snippet.code}` },
    ]),
  );
  const host = ts.createCompilerHost(compilerOptions);
  const disk = ts.createCompilerHost(compilerOptions);
  host.fileExists = (name) => files.has(name) || disk.fileExists(name);
  host.readFile = (name) => files.get(name)?.text ?? disk.readFile(name);
  host.getSourceFile = (name, version, onError) => {
    const file = files.get(name);
    return file === undefined
      ? disk.getSourceFile(name, version, onError)
      : ts.createSourceFile(name, file.text, version);
  };
  const program = ts.createProgram([...files.keys()], compilerOptions, host);
  return [
    ...new Set(
      ts.getPreEmitDiagnostics(program).map((diagnostic) => {
        const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
        const file = diagnostic.file === undefined ? undefined : files.get(diagnostic.file.fileName);
        // A problem outside the snippets (options, a package's types) is reported as it is.
        if (file === undefined || diagnostic.start === undefined) return message;
        const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start);
        return `${file.snippet.readme}:${file.snippet.line + line}: ${message}`;
      }),
    ),
  ];
}

describe('README TypeScript snippets', () => {
  const snippets = readmes().flatMap((file) => extractSnippets(file, readFileSync(file, 'utf8')));

  it('finds the snippets of the root, core and simulator READMEs', () => {
    const documented = new Set(snippets.map((snippet) => snippet.readme));
    expect([...documented]).toEqual(
      expect.arrayContaining(['README.md', 'packages/core/README.md', 'packages/openshift-sim/README.md']),
    );
  });

  it('reads the prelude comment above a block', () => {
    const text = 'x\n<!-- ts-prelude: declare const a: string; -->\n```ts\nconsole.log(a);\n```\n';
    expect(extractSnippets(join(root, 'X.md'), text)).toEqual([
      { readme: 'X.md', line: 4, prelude: 'declare const a: string;', code: 'console.log(a);\n' },
    ]);
  });

  it('compiles every snippet against the real exports', () => {
    expect(typecheck(snippets)).toEqual([]);
  });
});
