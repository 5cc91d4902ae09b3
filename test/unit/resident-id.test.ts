import test from 'ava';
import { maskIdNumber, maskMobile } from '../../server/crypto/field-crypto.ts';
import { normaliseMobile, parseResidentId } from '../../server/visitors/resident-id.ts';

const today = new Date('2026-12-01T00:00:00Z');

test('a valid ID number yields birth date and gender; x is accepted in either case', (t) => {
  const parsed = parseResidentId('11010519491231002x', today);
  t.deepEqual(parsed, { value: '11010519491231002X', birthDate: '1949-12-31', gender: 'F' });
  const male = parseResidentId('110105199003070017', today);
  t.like(male, { gender: 'M', birthDate: '1990-03-07' });
});

test('each invalid kind of ID number gets its own code', (t) => {
  t.is(parseResidentId('11010519491231002', today), 'ID_LENGTH');
  t.is(parseResidentId('1101051949123100XX', today), 'ID_FORMAT');
  t.is(parseResidentId('110105199002300011', today), 'ID_BIRTH_DATE'); // 30 February
  t.is(parseResidentId('110105203001010011', today), 'ID_BIRTH_DATE'); // born in the future
  t.is(parseResidentId('110105194912310021', today), 'ID_CHECK_DIGIT');
});

test('mobiles are normalised and masked; ID numbers are masked keeping region and last four', (t) => {
  t.is(normaliseMobile('+86 138-1234-5678'), '13812345678');
  t.is(normaliseMobile('12812345678'), null);
  t.is(normaliseMobile('1381234567'), null);
  t.is(maskMobile('13812345678'), '138****5678');
  t.is(maskIdNumber('41012319900307123X'), '410***********123X');
});
