/**
 * Workspace checks: the rules of ARCHITECTURE.md that no compiler enforces (layering, targets, docs, CI).
 * @module
 */
export { readWorkspaceGraph, WORKSPACE_ROOT, type ProjectNode, type WorkspaceGraph } from './workspace-graph.js';
