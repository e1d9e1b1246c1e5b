// A unified diff as a person reads it: added lines green, removed lines red, hunk headers muted,
// and a long file folded away until asked for.
import { el } from "./dom";

/** Files whose diff is longer than this many lines start collapsed. */
export const COLLAPSE_LINES = 60;

/** One file of get_changes' result. */
export interface ChangedFile {
  path: string;
  status: string;
  added: number;
  removed: number;
  moved_from?: string | null;
  diff?: string | null;
  note?: string | null;
}

/** get_changes' result: files grouped by the git repository they are in. */
export interface Changes {
  summary: string;
  repositories: Array<{ path: string; compared_with: string; files: ChangedFile[] }>;
  next_page_id?: string | null;
}

function lineClass(line: string): string {
  if (line.startsWith("+++") || line.startsWith("---")) return "file";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "add";
  if (line.startsWith("-")) return "del";
  return "ctx";
}

export function renderDiff(diff: string): HTMLElement {
  const pre = el("pre", "diff");
  for (const line of diff.replace(/\n$/, "").split("\n")) {
    pre.append(el("span", lineClass(line), `${line}\n`));
  }
  return pre;
}

export function renderFile(file: ChangedFile): HTMLElement {
  const details = el("details", "file");
  const summary = el("summary");
  summary.append(el("span", `status ${file.status}`, file.status));
  summary.append(el("code", "path", file.moved_from ? `${file.moved_from} → ${file.path}` : file.path));
  summary.append(el("span", "plus", `+${file.added}`), el("span", "minus", `−${file.removed}`));
  details.append(summary);
  if (file.diff) {
    details.open = file.diff.split("\n").length <= COLLAPSE_LINES;
    details.append(renderDiff(file.diff));
  }
  // Why a diff is absent or cut (lockfile, binary, huge, over the budget).
  if (file.note) details.append(el("p", "note", file.note));
  return details;
}

export function renderChanges(changes: Changes): HTMLElement[] {
  const many = changes.repositories.length > 1;
  return changes.repositories.flatMap((repo) => [
    ...(many ? [el("h3", "repo", repo.path)] : []),
    ...repo.files.map(renderFile),
  ]);
}
