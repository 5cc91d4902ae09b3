import test from 'ava';
import { campusDate, campusInstant, normaliseDate, normaliseTime } from '../../server/shared/campus-time.ts';

test('campus wall-clock times convert to instants and back (Asia/Shanghai is UTC+8)', (t) => {
  t.is(campusInstant('2026-12-03', '09:00', 'Asia/Shanghai').toISOString(), '2026-12-03T01:00:00.000Z');
  t.is(campusDate(new Date('2026-12-01T17:30:00Z'), 'Asia/Shanghai'), '2026-12-02');
  t.is(campusInstant('2026-07-01', '12:00', 'Europe/Berlin').toISOString(), '2026-07-01T10:00:00.000Z');
});

test('dates and times from the forms are normalised; impossible ones are refused', (t) => {
  t.is(normaliseDate('2026-12-03', 'Asia/Shanghai'), '2026-12-03');
  t.is(normaliseDate('12/03/2026', 'Asia/Shanghai'), '2026-12-03');
  t.is(normaliseDate('2026-12-02T16:00:00.000Z', 'Asia/Shanghai'), '2026-12-03');
  t.is(normaliseDate('2026-02-30', 'Asia/Shanghai'), null);
  t.is(normaliseDate(20261203, 'Asia/Shanghai'), null);
  t.is(normaliseTime('09:05:00'), '09:05');
  t.is(normaliseTime('24:00'), null);
});
