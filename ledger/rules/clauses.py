"""The contract clauses that rules cite, and the rules' titles (R13, Art.3.6).

Every charge records a rule (R-number) and a clause (`Art.4.3` = 第四条 item 3). This
catalogue turns them into the original Chinese sentence of the seed contract
(shared/seed/000_d067f392cc412a01.txt, quoted verbatim) and an English rendering,
so that an explanation answers "why was I charged this?" from the contract itself.
Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clause:
    ref: str  # "Art.4.3"
    heading: str  # "第四条 第3款"
    zh: str  # the seed's sentence, verbatim
    en: str  # an English rendering


def _c(ref: str, heading: str, zh: str, en: str) -> tuple[str, Clause]:
    return ref, Clause(ref, heading, zh, en)


CLAUSES: dict[str, Clause] = dict([
    _c("Art.1", "第一条 合作内容",
       "乙方向甲方提供专线类集团产品和相关客户服务，服务内容为：互联网链路1条、专用线路 3 条、"
       "提供20万条的短信业务。甲方在使用乙方提供的业务和服务的同时，向乙方支付业务使用费用。",
       "Party B provides Party A with dedicated-line group products and related customer "
       "service: 1 internet link, 3 dedicated lines and an SMS service of 200,000 messages. "
       "Party A pays Party B the usage fees for the services it uses."),
    _c("Art.2.1", "第二条 第1款",
       "甲方承诺和保证不利用网络进行任何违反法律以及危害国家利益的行为，保证不对乙方公众业务产生"
       "不良影响。否则，乙方有权解除协议并追究因甲方的违约行为给乙方造成的全部损失。",
       "Party A undertakes not to use the network for anything unlawful or harmful to the "
       "national interest, nor to harm Party B's public services; otherwise Party B may "
       "terminate the agreement and claim all losses caused by the breach."),
    _c("Art.2.3", "第二条 第3款",
       "甲方不得通过转售、转租、借用等方式将本协议项下的业务提供给第三方使用，否则乙方有权提前解除"
       "本协议，且不承担违约责任，因此造成的相应责任和后果由甲方承担。",
       "Party A may not resell, sublease or lend the services to a third party; otherwise "
       "Party B may terminate early without liability, and Party A bears the consequences."),
    _c("Art.2.8", "第二条 第8款",
       "业务终止后，甲方应无条件配合乙方拆回放置于甲方机房的设备。如由于甲方原因导致交付清单中的"
       "设备丢失， 乙方有权利依法进行追讨赔偿。具体的设备资产清单以业务开通后甲乙双方签署的开通"
       "确认单中的资产清 单为准。",
       "After the service ends, Party A shall help Party B recover the equipment placed in "
       "Party A's machine room. If equipment on the delivery list is lost through Party A, "
       "Party B may claim compensation. The asset list is the one in the activation "
       "confirmation signed by both parties."),
    _c("Art.2.14", "第二条 第14款",
       "甲方承诺和保证不利用乙方业务进行任何违反国家有关法律法规以及危害国家利益的行为，……否则，"
       "乙方有权解除 协议并追究因甲方的违约行为给乙方造成的全部损失。",
       "Party A undertakes not to use Party B's services for anything unlawful or harmful "
       "to the national interest; otherwise Party B may terminate and claim all losses."),
    _c("Art.3.5", "第三条 第5款",
       "乙方保留资费调整的权利，并承诺在调整后及时通知甲方。",
       "Party B reserves the right to adjust its tariffs and undertakes to notify Party A "
       "promptly after an adjustment."),
    _c("Art.3.6", "第三条 第6款",
       "甲方对交纳的业务费用有异议时，乙方需采取必要措施协助甲方查找原因。",
       "When Party A questions the fees it has paid, Party B shall take the necessary "
       "steps to help Party A find the cause."),
    _c("Art.4.1", "第四条 第1款",
       "乙方向甲方提供的专线接入服务；自服务正式开通之日起开始收费，实际费用按照实际开通专线条数及"
       "时间计算，开通当月按日计费，其他使用期间均按月计费。",
       "Charging starts on the day the service is formally activated; the fee is computed "
       "from the number of lines actually activated and the time in service: by day in the "
       "month of activation, by month in every other period of use."),
    _c("Art.4.2", "第四条 第2款",
       "本合同中甲乙各方之间发生的费用均以人民币结算和支付。",
       "All fees between the parties under this contract are settled and paid in RMB."),
    _c("Art.4.3", "第四条 第3款",
       "甲方应在收到乙方提交的业务交付测试报告后3个工作日内签章确认，确认业务开通并同步计费，"
       "逾期未签章确认的，在乙方提交业务正常开通的交付测试报告后5天开始计费。",
       "Party A shall sign and seal the confirmation within 3 working days after receiving "
       "Party B's delivery test report, confirming activation, and charging starts with it; "
       "if it is not signed in time, charging starts 5 days after Party B submitted the "
       "delivery test report showing normal activation."),
    _c("Art.4.4", "第四条 第4款",
       "采取预付费方式的，当月末专线业务的付费账户中预存费用不足次月的月租费时，即执行业务暂停"
       "（即停机）。专线付费账户欠费后，如果实行后付费，在欠费期开始的第三月的1日起，对通过该账户"
       "付费的专线业务实施停机。业务暂停达到3个月，乙方业务管理系统将自动触发业务注销，本合同终止，"
       "但乙方仍有权按照本合同约定向甲方追偿欠费。",
       "Prepaid: when at the end of a month the account's balance is less than the next "
       "month's rent, the service is suspended. Postpaid: once the account is in arrears, "
       "the lines paid from it are suspended from the 1st day of the third month of the "
       "arrears period. A suspension lasting 3 months cancels the service and terminates "
       "this contract, but Party B may still recover the arrears."),
    _c("Art.4.5", "第四条 第5款",
       "自合同签订之日起，乙方按照合同要求安装调试，网络运行正常一个月后甲方进行验收，验收合格后"
       "根据合同要求付款。",
       "From signing, Party B installs and tests as the contract requires; after one month "
       "of normal running Party A performs acceptance, and pays as agreed once it passes."),
    _c("Art.4.6", "第四条 第6款",
       "本合同有效期一年，2025年9月1日-2026年8月31日。",
       "This contract is valid for one year, 2025-09-01 to 2026-08-31."),
    _c("Art.6.1", "第六条 第1款",
       "任一方违反本协议约定导致本协议无法履行，另一方有权终止协议，并要求违约方赔偿损失；",
       "If either party's breach makes the agreement impossible to perform, the other party "
       "may terminate it and claim damages."),
    _c("Art.6.2", "第六条 第2款",
       "若因甲方违约造成乙方不良社会影响或经济损失，则乙方有权追究甲方责任，要求其消除影响、"
       "作相应的经济赔偿，并有权终止协议。",
       "If Party A's breach causes Party B reputational or financial harm, Party B may hold "
       "Party A liable, claim compensation and terminate the agreement."),
    _c("Art.6.5", "第六条 第5款",
       "若甲方登记使用乙方互联网专线业务时，承诺不提供经营性或非经营性互联网服务，但私下从事该类"
       "业务的，乙方有权停止提供服务，且因此产生的一切法律责任由甲方承担。",
       "If Party A undertook not to provide internet information services but does so, "
       "Party B may stop the service, and Party A bears all legal liability."),
    _c("Art.6.6", "第六条 第6款",
       "乙方发现甲方提供服务被用于从事违反国家法律法规及政策规定的违法行为时，乙方有权停止提供"
       "服务，由此产生的一切法律责任由甲方承担，由此造成乙方损失的，甲方应当予以赔偿。",
       "If Party B finds the service used for unlawful acts, it may stop the service; Party A "
       "bears all liability and compensates Party B's losses."),
    _c("Art.7.2", "第七条 第2款",
       "乙方负责出资建设的传输交换等设备的所有权归乙方所有。",
       "Transmission and switching equipment built at Party B's expense belongs to Party B."),
    _c("Art.7.3", "第七条 第3款",
       "本协议有效期满前 30日内任何一方未书面提出终止合作的，本协议自动延期1年（跨境专线协议除外，"
       "跨境专线协议自动延期1个月），延期期满后依此类推。但双方同意本合同仍为约定有效期的固定期限"
       "合同。",
       "If neither party gives written notice of termination within the 30 days before the "
       "term ends, the agreement extends automatically by 1 year (cross-border agreements: "
       "1 month), and so on after each extension; it remains a fixed-term contract."),
    _c("Art.8.7", "第八条 第七项",
       "为避免甲方使用乙方互联网接入业务承载未备案网站， 乙方在业务开通时可默认停闭专线的 80 、"
       "8080、443 、8443 等端口，甲方凭完成备案的资料申请开通",
       "To keep unfiled websites off its internet access service, Party B may close ports 80, "
       "8080, 443 and 8443 at activation; Party A applies to open them with its completed "
       "ICP filing."),
])

#: Rule titles (DOMAIN.md). "SMS" is the SMS-bundle overage policy.
RULES: dict[str, str] = {
    "R1": "Money: CNY, exact decimals, rounded half-up to the fen once per item",
    "R2": "Billing start per line: confirmed in the window, or deemed T + 5 days",
    "R3": "Activation month by day, then by month",
    "R4": "When charges post (bills issued on the 1st, due at month end)",
    "R5": "Prepaid suspension",
    "R6": "Postpaid suspension (arrears month 3)",
    "R7": "While suspended: no rent for suspended days",
    "R8": "Automatic cancellation after 3 months of suspension",
    "R9": "Auto-renewal",
    "R10": "Termination: rent by day up to the day before",
    "R11": "Equipment recovery and lost assets",
    "R12": "Tariff adjustment: by day at each rate",
    "R13": "Fee questions and adjustments",
    "R14": "Acceptance",
    "R15": "Confidentiality",
    "R16": "Compliance: web ports closed until the ICP filing",
    "SMS": "SMS bundle overage (policy: per message beyond the quota)",
}


def clause(ref: str) -> Clause:
    """The clause `ref` ("Art.4.3"); an unknown reference is a programming error."""
    return CLAUSES[ref]


def rule_title(rule: str) -> str:
    return RULES[rule]
