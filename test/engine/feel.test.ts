import test from 'ava';
import { checkFeelSyntax, evaluateFeel, evaluateList, FeelError } from '../../engine-adapter/embedded/feel.ts';

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
