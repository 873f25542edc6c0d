// Path patterns for fault rules and journal filters: globs (`*` = within one path segment,
// `**` = across segments, `?` = one character) or regular expressions, in separate fields so a
// path is never mistaken for the other kind.
import { badRequest } from "../errors.js";

export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function compileRegex(source: string, field: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw badRequest(`Invalid regular expression in ${field}: ${(err as Error).message}`, [{ field, problem: "invalid regular expression", received: source }]);
  }
}

/** A predicate on paths from an optional glob and an optional regex (both must match when both are given). */
export function pathPredicate(glob: string | undefined, regex: string | undefined, fields: [string, string]): ((path: string) => boolean) | undefined {
  const g = glob === undefined ? undefined : globToRegExp(glob);
  const r = regex === undefined ? undefined : compileRegex(regex, fields[1]);
  if (!g && !r) return undefined;
  return (p) => (!g || g.test(p)) && (!r || r.test(p));
}
