import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ProjectNode {
  name: string;
  root: string;
  tags: string[];
  targets: string[];
}

export interface WorkspaceGraph {
  projects: Map<string, ProjectNode>;
  /** Project name → names of the workspace projects it depends on. */
  dependencies: Map<string, string[]>;
}

/** The repository root: two levels above tools/workspace. */
export const WORKSPACE_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

interface RawGraph {
  graph: {
    nodes: Record<string, { name: string; data: { root: string; tags?: string[]; targets?: Record<string, unknown> } }>;
    dependencies: Record<string, { target: string }[]>;
  };
}

/** Reads the project graph exactly as a user gets it, through `nx graph --file`. */
export function readWorkspaceGraph(): WorkspaceGraph {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nx-graph-')), 'graph.json');
  execFileSync('npx', ['nx', 'graph', `--file=${file}`], {
    cwd: WORKSPACE_ROOT,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    stdio: 'pipe',
  });
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as RawGraph;
  const projects = new Map<string, ProjectNode>();
  for (const node of Object.values(raw.graph.nodes)) {
    projects.set(node.name, {
      name: node.name,
      root: node.data.root,
      tags: node.data.tags ?? [],
      targets: Object.keys(node.data.targets ?? {}),
    });
  }
  const dependencies = new Map<string, string[]>();
  for (const [name, deps] of Object.entries(raw.graph.dependencies)) {
    dependencies.set(
      name,
      deps.map((d) => d.target).filter((t) => projects.has(t))
    );
  }
  return { projects, dependencies };
}
