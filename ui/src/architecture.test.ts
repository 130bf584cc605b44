// @vitest-environment node
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

// The layout rules of STYLE.md (bulletproof-react), checked so they stay true as pages are added.
const srcDir = fileURLToPath(new URL('.', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const files = walk(srcDir).map((path) => relative(srcDir, path).split(sep).join('/'));
const sources = files.filter((file) => /\.(ts|tsx)$/.test(file));

function importsOf(file: string): string[] {
  const text = readFileSync(join(srcDir, file), 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s+['"]([^'"]+)['"]/g)].map(
    (match) => match[1] ?? match[2] ?? '',
  );
}

/** Resolves an import to a path under src/, or null for packages. */
function target(file: string, specifier: string): string | null {
  if (specifier.startsWith('@/')) return specifier.slice(2);
  if (!specifier.startsWith('.')) return null;
  const parts = file.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  return parts.join('/');
}

function featureOf(path: string): string | null {
  return /^features\/([^/]+)\//.exec(path)?.[1] ?? null;
}

describe('source layout', () => {
  it('names every file in kebab-case', () => {
    const offenders = files.filter((file) =>
      file.split('/').some((part) => !/^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+)*$/.test(part)),
    );
    expect(offenders).toEqual([]);
  });

  it('keeps features independent of each other', () => {
    const offenders = sources.flatMap((file) => {
      const own = featureOf(file);
      if (!own) return [];
      return importsOf(file)
        .map((specifier) => target(file, specifier))
        .filter((path): path is string => path !== null)
        .filter((path) => {
          const other = featureOf(`${path}/`);
          return (other !== null && other !== own) || path === 'app' || path.startsWith('app/');
        })
        .map((path) => `${file} -> ${path}`);
    });
    expect(offenders).toEqual([]);
  });

  it('keeps shared code (components, lib, config) free of features and app', () => {
    const shared = sources.filter(
      (file) => /^(components|lib|config)\//.test(file) && !file.endsWith('.test.ts') && !file.endsWith('.test.tsx'),
    );
    const offenders = shared.flatMap((file) =>
      importsOf(file)
        .map((specifier) => target(file, specifier))
        .filter((path): path is string => path !== null && /^(features|app)(\/|$)/.test(path))
        .map((path) => `${file} -> ${path}`),
    );
    expect(shared.length).toBeGreaterThan(0);
    expect(offenders).toEqual([]);
  });

  it('gives every endpoint its own file under a feature api/ folder', () => {
    const endpointFiles = sources.filter((file) => /^features\/[^/]+\/api\//.test(file));
    expect(endpointFiles).toEqual(
      expect.arrayContaining(['features/auth/api/get-whoami.ts', 'features/host/api/get-host.ts']),
    );
    for (const file of endpointFiles) {
      const paths = readFileSync(join(srcDir, file), 'utf8').match(/'\/api\/v1\/[^']*'/g) ?? [];
      expect(new Set(paths).size, file).toBeLessThanOrEqual(1);
    }
  });
});
