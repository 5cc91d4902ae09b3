import test from 'ava';
import { isDataException } from '../../server/http/error.middleware.ts';
import { isDatabaseBusy } from '../../server/http/server-busy.ts';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code, severity: 'FATAL' });

test('a PostgreSQL restart under a request is "busy, try again" (503), not a fault (500)', (t) => {
  // What node-pg raises while PostgreSQL restarts: the server ends the session, or the socket just closes.
  t.true(isDatabaseBusy(pgError('57P01', 'terminating connection due to administrator command')));
  t.true(isDatabaseBusy(pgError('57P03', 'the database system is starting up')));
  t.true(isDatabaseBusy(new Error('Connection terminated unexpectedly')));
  t.true(isDatabaseBusy(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })));
  t.true(isDatabaseBusy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
  // Through objection: a DBError keeps the driver's error as nativeError (seen as a 500 in the chaos bench).
  const wrapped = Object.assign(new Error('the database system is starting up'), { name: 'DBError', nativeError: pgError('57P03') });
  t.true(isDatabaseBusy(wrapped));
});

test('a genuine fault stays a fault', (t) => {
  t.false(isDatabaseBusy(pgError('42P01', 'relation "nope" does not exist')));
  t.false(isDatabaseBusy(pgError('23505', 'duplicate key value violates unique constraint')));
  t.false(isDatabaseBusy(new TypeError("Cannot read properties of undefined (reading 'id')")));
  t.false(isDatabaseBusy(undefined));
  t.false(isDatabaseBusy(Object.assign(new Error('duplicate'), { name: 'UniqueViolationError', nativeError: pgError('23505') })));
});

test('a value PostgreSQL refuses (class 22) is the client\'s 400, also wrapped by objection (the fuzz test found a NUL byte answered 500)', (t) => {
  const nul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR' });
  t.true(isDataException(nul));
  t.true(isDataException(Object.assign(new Error(`select ... - ${nul.message}`), { name: 'DataError', nativeError: nul })));
  t.false(isDataException(Object.assign(new Error('duplicate'), { name: 'UniqueViolationError', nativeError: { code: '23505', severity: 'ERROR' } })));
  t.false(isDataException(new Error('22021 in a message only')));
});
