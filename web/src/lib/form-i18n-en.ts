/**
 * English for the Chinese strings of the shipped Form.io forms (forms/visit-application.json, host-review.json,
 * leader-review.json): panel titles, labels, descriptions, placeholders, option labels, the submit button and
 * the validation messages written in the JSON (validate.customMessage, errors.*, the JSONLogic message).
 *
 * Form.io passes each of these through its i18n `t()` with the Chinese text as the key (labels, titles,
 * descriptions, placeholders and radio labels in the templates with `ctx.t(...)`, validation messages in
 * `interpolateErrors`, the `{{field}}` of a built-in message through the current language). formio.ts hands
 * this table to Form.io as its `en` language when the page is in English; the Chinese page is unchanged.
 *
 * The keys are the exact texts of the JSON files. A field an administrator adds or renames later in the form
 * builder has no entry here and simply shows its own (Chinese) text in English mode; so do the select options
 * filled from the directory (campus and department names, leaders), which are data, not form text.
 * The forms/*.json files are not changed: the server validates submissions against them.
 */
export const formStringsEn: Record<string, string> = {
  // visit-application.json
  '校外人员(车辆)临时进入校园通行申请': 'Application for temporary campus entry (visitors and vehicles)',
  申请人信息: 'Applicant',
  申请日期: 'Application date',
  姓名: 'Name',
  账号: 'Account',
  '身份证号（已脱敏）': 'Resident ID number (masked)',
  性别: 'Gender',
  '手机号（已脱敏）': 'Mobile number (masked)',
  是否驾车: 'Coming by car',
  车牌号: 'Licence plate',
  '例如：京A12345': 'e.g. 京A12345',
  '请输入正确的车牌号，例如：京A12345': 'Enter a valid Chinese licence plate, e.g. 京A12345',
  驾车入校请填写车牌号: 'Enter the licence plate of the car you come with',
  到访单位信息: 'Department visited',
  校区: 'Campus',
  请选择到访校区: 'Choose the campus you visit',
  到访部门: 'Department',
  请选择到访部门: 'Choose the department you visit',
  接待人姓名: 'Host name',
  请填写接待人姓名: 'Enter the name of your host',
  接待人姓名不能超过50个字: 'The host name can be at most 50 characters',
  接待人手机号: 'Host mobile number',
  请输入正确的11位手机号: 'Enter a valid 11-digit mobile number',
  请填写接待人手机号: "Enter your host's mobile number",
  到访时间: 'Visit time',
  到访日期: 'Visit date',
  请选择到访日期: 'Choose the visit date',
  开始时间: 'Start time',
  '请填写开始时间（HH:mm）': 'Enter the start time (HH:mm)',
  请填写开始时间: 'Enter the start time',
  结束时间: 'End time',
  '请填写结束时间（HH:mm），且晚于开始时间': 'Enter the end time (HH:mm), later than the start time',
  结束时间须晚于开始时间: 'The end time must be later than the start time',
  请填写结束时间: 'Enter the end time',
  '时间格式应为HH:mm': 'Use the format HH:mm',
  同行人员: 'Companions',
  '与您同行入校的人员（选填，最多20人）：每人单独获得通行码，通行码链接以短信发送到其手机':
    'People who come in with you (optional, up to 20): each gets a pass of his own, sent to his mobile as a link by SMS',
  添加同行人员: 'Add a companion',
  同行人员姓名: "Companion's name",
  同行人员身份证号: "Companion's resident ID number",
  同行人员手机号: "Companion's mobile number",
  同行人员最多20人: 'At most 20 companions',
  请填写同行人员姓名: "Enter the companion's name",
  姓名不能超过50个字: 'The name can be at most 50 characters',
  身份证号: 'Resident ID number',
  请填写同行人员身份证号: "Enter the companion's resident ID number",
  请输入正确的18位身份证号: 'Enter a valid 18-character resident ID number',
  手机号: 'Mobile number',
  请填写同行人员手机号: "Enter the companion's mobile number",
  附件: 'Attachments',
  请上传所需材料的图片或PDF文件: 'Upload the required documents as images or PDF files',
  只能上传图片或PDF文件: 'Only images or PDF files can be uploaded',
  单个文件不能超过10MB: 'Each file can be at most 10 MB',
  备注: 'Remarks',
  备注不能超过500个字: 'Remarks can be at most 500 characters',
  提交: 'Submit',

  // host-review.json, leader-review.json
  到访部门接待人意见: "Host's opinion",
  部门主管领导意见: "Department leader's opinion",
  审核意见: 'Opinion',
  可选择常用意见或自行填写: 'Pick a common opinion or write your own',
  请填写审核意见: 'Enter your opinion',
  审核意见不能超过500个字: 'The opinion can be at most 500 characters',
  审核结果: 'Decision',
  同意: 'Approve',
  否决: 'Refuse',
  请选择同意或否决: 'Choose approve or refuse',
  部门主管领导: 'Department leader',
  同意时请选择部门主管领导: 'To approve, choose the department leader who signs next',
};
