import test from 'ava';
import { englishErrorText, englishFieldText, passReasonText } from '../../web/src/lib/error-texts.ts';

// The error the server sends for a visit outside the campus opening hours (server/applications).
const outsideHours = {
  status: 400,
  code: 'VISIT_WINDOW_OUTSIDE_HOURS',
  message: '到访时间应在主校区开放时间07:00至23:00之内',
  details: [{ field: 'visitStartTime', message: '到访时间应在主校区开放时间07:00至23:00之内', campus: '主校区', opensAt: '07:00', closesAt: '23:00' }],
};

test('the opening-hours refusal in English keeps the hours (the campus name is data)', (t) => {
  t.is(englishErrorText(outsideHours), 'The visit must lie within the opening hours of 主校区: 07:00 to 23:00');
  t.is(englishFieldText(outsideHours, outsideHours.details[0]), englishErrorText(outsideHours), 'the field says the same');
});

test('without the values the server message stays', (t) => {
  t.is(englishErrorText({ ...outsideHours, details: [{ field: 'visitStartTime', message: outsideHours.message }] }), undefined);
});

test('the lock-out wait is read from the details', (t) => {
  t.regex(englishErrorText({ status: 429, code: 'LOGIN_LOCKED', message: '登录失败次数过多，请2分钟后再试', details: { retryAfterSeconds: 90 } })!, /Try again in/);
  t.is(englishErrorText({ status: 429, code: 'LOGIN_LOCKED', message: '登录失败次数过多' }), undefined);
});

test('gate verdicts in English carry the values the server sends', (t) => {
  t.is(passReasonText('WRONG_CAMPUS', { campus: '主校区' }), 'This pass is for another campus (主校区).');
  t.regex(passReasonText('NOT_YET_VALID', { earlyMinutes: 30 })!, /30 minutes before/);
  t.is(passReasonText('NOT_YET_VALID', {}), undefined, 'without the value: the server text stays');
  t.regex(passReasonText(undefined)!, /valid/);
  t.regex(englishErrorText({ status: 409, code: 'PASS_NOT_VALID', message: '该通行码不适用于本校区（适用校区：主校区）', details: { reason: 'WRONG_CAMPUS', campus: '主校区' } })!, /another campus/);
});

test('an invitation sent to another mobile says which one, in English too', (t) => {
  const e = { status: 403, code: 'INVITATION_MOBILE_MISMATCH', message: '该邀请发给手机号 139****0001，请退出后用该手机号登记或登录' };
  t.is(englishErrorText(e), 'This invitation was sent to 139****0001. Log out, then register or log in with that mobile number.');
  t.regex(englishErrorText({ ...e, message: '别的话' })!, /another mobile number/);
  t.regex(englishErrorText({ status: 409, code: 'INVITATION_USED', message: '该邀请已使用' })!, /has been used/);
});

test('report refusals in English, read from the server message where it varies', (t) => {
  t.is(englishErrorText({ status: 400, code: 'REPORT_RANGE_TOO_LONG', message: '日期范围最长 366 天' }), 'The date range can be at most 366 days');
  t.is(englishErrorText({ status: 400, code: 'REPORT_FILTER_INVALID', message: '该部门不在所选校区' }), 'The chosen department does not belong to this campus');
  t.is(englishErrorText({ status: 400, code: 'REPORT_FILTER_INVALID', message: '别的话' }), undefined, 'an unknown message stays Chinese');
  t.is(englishErrorText({ status: 403, code: 'REPORT_DEPARTMENT_FORBIDDEN', message: '只能查看本部门的报表' }), "You can only see your own department's reports");
});

test('group visits: each companion row problem in English, whatever the first problem was', (t) => {
  const e = {
    status: 400,
    code: 'COMPANION_ID_INVALID',
    message: '身份证号校验位不正确，请核对后重新输入',
    details: [
      { field: 'companions[0].idNumber', message: '身份证号校验位不正确，请核对后重新输入' },
      { field: 'companions[2].idNumber', message: '与第2位同行人员的身份证号重复' },
      { field: 'companions[3].mobile', message: '请填写正确的11位手机号' },
    ],
  };
  t.regex(englishErrorText(e)!, /check digit/);
  t.deepEqual(
    e.details.map((d) => englishFieldText(e, d)),
    ['The check digit of the resident ID number is wrong. Check the number and enter it again.', 'Same resident ID number as companion 2', 'Enter a valid 11-digit mobile number'],
  );
  t.is(englishErrorText({ status: 400, code: 'COMPANIONS_TOO_MANY', message: '同行人员最多20人', details: [{ field: 'companions', message: '同行人员最多20人', max: 20 }] }), 'At most 20 companions');
  t.is(englishErrorText({ status: 400, code: 'COMPANIONS_TOO_MANY', message: '同行人员最多20人' }), undefined, 'without the value the server text stays');
});

test("a companion's link sent again too soon or too often: the wait and the limit in English", (t) => {
  const soon = { status: 429, code: 'COMPANION_LINK_TOO_SOON', message: '通行码链接刚刚发送过，请42秒后再重发', details: { retryAfterSeconds: 42 } };
  t.is(englishErrorText(soon), 'The link was just sent. Try again in 42 seconds.');
  t.is(englishErrorText({ ...soon, details: {} }), undefined, 'without the wait: the server text stays');
  t.regex(englishErrorText({ status: 429, code: 'COMPANION_LINK_LIMIT', message: '已重发5次', details: { max: 5 } })!, /sent again 5 times/);
  t.regex(englishErrorText({ status: 409, code: 'COMPANION_PASS_NOT_VALID', message: '该同行人员的通行码已过期，不能重发链接' })!, /expired/);
  t.regex(englishErrorText({ status: 409, code: 'COMPANION_PASS_NOT_VALID', message: '该同行人员的通行码已作废，不能重发链接' })!, /revoked/);
});
