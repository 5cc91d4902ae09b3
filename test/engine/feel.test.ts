import test from 'ava';
import { evaluate as feelin } from 'feelin';
import { checkFeelSyntax, evaluateFeel, hasFastPath, evaluateList, FeelError, toPlain } from '../../engine-adapter/embedded/feel.ts';

test('a value without = is a literal', (t) => {
  t.is(evaluateFeel('PT72H', {}), 'PT72H');
});

test('unknown variables and functions are errors, not null', (t) => {
  t.throws(() => evaluateFeel('=missing + 1', {}), { instanceOf: FeelError, message: /missing/ });
  t.throws(() => evaluateFeel('=nosuch(1)', {}), { instanceOf: FeelError });
  t.is(evaluateFeel('=present', { present: null }), null, 'a variable that exists with null is fine');
});

test('a branch not taken may name a variable that does not exist', (t) => {
  t.is(evaluateFeel('=if decision = "approve" then leaderStaffId else null', { decision: 'refuse' }), null);
});

test('FEEL values become JSON values', (t) => {
  t.is(evaluateFeel('=duration("PT72H")', {}), 'P3D');
  t.is(evaluateFeel('=date and time("2026-12-01T10:00:00Z") + duration("PT1H")', {}), '2026-12-01T11:00:00Z');
  t.deepEqual(evaluateFeel('={a: [1, "x"]}', {}), { a: [1, 'x'] });
});

test('candidate lists: a FEEL list or a comma list', (t) => {
  t.deepEqual(evaluateList('=[dept]', { dept: 'dept-12' }), ['dept-12']);
  t.deepEqual(evaluateList('a, b ,c', {}), ['a', 'b', 'c']);
  t.deepEqual(evaluateList(undefined, {}), []);
});

test('syntax is checked without variables', (t) => {
  t.is(checkFeelSyntax('=a > 1'), undefined);
  t.regex(checkFeelSyntax('=a >')!, /syntax/);
});

test('the shapes evaluated without feelin give what feelin gives', (t) => {
  const contexts: Record<string, unknown>[] = [
    { decision: 'approve', group: 'dept-1', n: 3, flag: true, none: null, obj: { a: [1, { b: 2 }] } },
    { decision: 'refuse', group: null, n: 0, flag: false, none: null, obj: {} },
  ];
  const expressions = [
    'decision',
    ' decision ',
    '[group]',
    '[ n ]',
    'obj',
    'none',
    'decision = "approve"',
    'decision != "approve"',
    'none = "approve"',
    'none != "approve"',
    'n = "3"',
    'flag = "true"',
    'true',
    'null',
    'false',
    '"text"',
    'flag = true',
    'flag != true',
    'flag = false',
    'none = true',
    'none != false',
    'decision = true',
    'n = true',
    '["role-security"]',
    '[null]',
    '[decision]',
    'if decision = "approve" then group else null',
    'if decision != "approve" then "refused" else decision',
    'if flag = true then "yes" else "no"',
    'if none = "x" then n else decision',
    'if n = "3" then true else false',
    'if decision = "a then b" then n else null',
  ];
  for (const vars of contexts)
    for (const e of expressions) {
      const expected = feelin(e, vars);
      if (expected.warnings.some((w) => w.type === 'NO_VARIABLE_FOUND')) continue;
      t.deepEqual(evaluateFeel(`=${e}`, vars), toPlain(expected.value), `${e} with ${JSON.stringify(vars)}`);
    }
  t.throws(() => evaluateFeel('=missing', {}), { instanceOf: FeelError, message: /missing/ });
  t.throws(() => evaluateFeel('=[missing]', {}), { instanceOf: FeelError, message: /missing/ });
  t.throws(() => evaluateFeel('=missing = "x"', {}), { instanceOf: FeelError, message: /missing/ });
  // The default flow's expressions never reach feelin (each call there parses the expression again).
  for (const e of ['=opinion', '=[departmentGroup]', '=["role-security"]', '=watchHit = true', '=hostDecision = "approve"', '=if decision = "approve" then leaderStaffId else null'])
    t.true(hasFastPath(e), e);
  for (const e of ['=n > 1', '=a and b', '=if n > 1 then a else b', '=[a, b]', '=x = 1', '=if a = "x" then b else if c = "y" then d else null'])
    t.false(hasFastPath(e), e);
  t.throws(() => evaluateFeel('=if d = "a" then missing else null', { d: 'a' }), { instanceOf: FeelError, message: /missing/ });
  t.is(evaluateFeel('=if d = "a" then missing else null', { d: 'b' }), null, 'the branch not taken is not read');
});
