import test from 'ava';
import { RateMeter } from '../../server/shared/rate-meter.ts';

test('counts events in the current second and remembers the last full one', (t) => {
  let now = 10_000;
  const meter = new RateMeter(() => now);
  for (let i = 0; i < 5; i++) meter.hit();
  t.is(meter.perSecond(), 5);
  now += 1000; // the next second: the last one still counts until this one is busier
  meter.hit();
  t.is(meter.perSecond(), 5);
  for (let i = 0; i < 6; i++) meter.hit();
  t.is(meter.perSecond(), 7);
});

test('a quiet gap forgets the rate', (t) => {
  let now = 0;
  const meter = new RateMeter(() => now);
  for (let i = 0; i < 50; i++) meter.hit();
  now += 2500;
  t.is(meter.perSecond(), 0);
});
