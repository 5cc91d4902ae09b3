import type { z } from 'zod';

/**
 * A problem found in an integration setting (SMS, WeChat): where it is (a path below the variable or field),
 * the English text start-up prints next to the environment variable, and the Chinese text the admin page
 * shows next to the field. One check produces both, so the page and the environment cannot drift apart.
 */
export interface SettingIssue {
  path: Array<string | number>;
  message: string;
  zh: string;
}

/** The Chinese of the rules' own English texts (zod keeps only the message on a built-in check's issue). */
const ZH = new Map<string, string>();

/** A rule's own text with its Chinese: `.refine(check, zhText('english', '中文'))`, `.min(1, zhText(...))`. */
export function zhText(message: string, zh: string): string {
  ZH.set(message, zh);
  return message;
}

type Issue = z.core.$ZodIssue;

/** The branch of a failed union that got furthest (an object whose field was wrong beats "not a string"). */
function deepestBranch(issue: Extract<Issue, { code: 'invalid_union' }>): Issue[] | undefined {
  const branches = issue.errors.filter((b) => b.length > 0);
  const score = (b: Issue[]) => (b.every((i) => i.code === 'invalid_type' && i.path.length === 0) ? -1 : Math.max(...b.map((i) => i.path.length)));
  return branches.sort((a, b) => score(b) - score(a))[0];
}

/** The issues of a zod failure with unions opened up to the branch that explains them best. */
export function flattenIssues(issues: readonly Issue[], prefix: Array<string | number> = []): Array<Issue & { path: Array<string | number> }> {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...(issue.path as Array<string | number>)];
    if (issue.code === 'invalid_union') {
      const branch = deepestBranch(issue);
      if (branch) return flattenIssues(branch, path);
    }
    return [{ ...issue, path }];
  });
}

/** The Chinese text of a zod issue: the rule's own (params.zh), else one per kind of failure. */
export function zhIssue(issue: Issue): string {
  const own = ZH.get(issue.message);
  if (own !== undefined) return own;
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'string' ? (Number(issue.minimum) <= 1 ? '不能为空' : `至少 ${issue.minimum} 个字符`) : `不能少于 ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'string' ? `最多 ${issue.maximum} 个字符` : `不能多于 ${issue.maximum}`;
    case 'invalid_format':
      return issue.format === 'url' ? '不是有效的网址（应以 https:// 开头）' : '格式不对';
    case 'invalid_value':
      return `只能是 ${issue.values.map((v) => String(v)).join('、')} 之一`;
    case 'invalid_type':
      return issue.expected === 'string' ? '应为文字' : issue.expected === 'object' ? '格式不对' : `类型不对（应为 ${issue.expected}）`;
    case 'unrecognized_keys':
      return `不认识的项：${issue.keys.join('、')}`;
    default:
      return '输入有误';
  }
}

/** SettingIssues of a zod failure, each with its English and Chinese text. */
export function settingIssues(error: z.ZodError, prefix: Array<string | number> = []): SettingIssue[] {
  return flattenIssues(error.issues, prefix).map((i) => ({ path: i.path, message: i.message, zh: zhIssue(i) }));
}
