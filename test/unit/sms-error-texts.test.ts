import test from 'ava';
import { englishErrorText } from '../../web/src/lib/error-texts.ts';

test("the send test's refusal in English keeps the vendor's code and text as sent", (t) => {
  const refusal = {
    status: 502,
    code: 'SMS_CREDENTIALS_REJECTED',
    message: '短信服务商拒绝了凭据（AccessKey / SecretId 或密钥有误、已停用或无权限）：AuthFailure.SignatureFailure The provided credentials could not be validated.',
    details: { provider: 'tencent', vendorCode: 'AuthFailure.SignatureFailure', vendorMessage: 'The provided credentials could not be validated.', retryable: false },
  };
  t.is(englishErrorText(refusal), 'The SMS vendor refused the credentials (AccessKey / SecretId or secret wrong, disabled or not allowed): AuthFailure.SignatureFailure The provided credentials could not be validated.');
  t.is(englishErrorText({ ...refusal, code: 'SMS_THROTTLED', details: {} }), 'The SMS vendor is throttling: try again later');
  t.is(englishErrorText({ status: 400, code: 'VALIDATION_FAILED', message: '请输入 11 位手机号' }), 'Enter an 11-digit mobile number');
});
