/**
 * Workspace checks: the rules of ARCHITECTURE.md that no compiler enforces (layering, targets, docs, CI).
 * @module
 */
export { readWorkspaceGraph, WORKSPACE_ROOT, type ProjectNode, type WorkspaceGraph } from './workspace-graph.js';
export { PUBLISHED_PACKAGES, readPackage, type PackageManifest } from './packages.js';
