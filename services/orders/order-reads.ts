/**
 * The orders service's reads: one order, and a page of them, as the caller may see them (a
 * customer its own only; another's order is answered as unknown).
 */
import type { WhereOptions } from "sequelize";
import type { Caller } from "../../lib/auth/caller";
import { MAX_PAGE_SIZE, pageInfo, type ListOrdersParams, type OrderPage } from "../../lib/contracts/orders";
import { customerFilterOfList, visibleTo } from "./orders.access";
import { isOrderId, pageWindow } from "./orders.domain";
import { OrderNotFoundError } from "./orders.errors";
import { toOrderView, type OrderModel, type OrderRow } from "./orders.model";

/** Loads an order row the caller may see, or throws a 404: another customer's order is unknown to a customer. */
export async function findOrder(Order: OrderModel, id: string, caller: Caller | null): Promise<OrderRow> {
	if (!isOrderId(id)) throw new OrderNotFoundError(id);
	const row = await Order.findOne({ where: { id, ...visibleTo(caller) } });
	if (!row) throw new OrderNotFoundError(id);
	return row.get({ plain: true });
}

/** Filters, pages and counts orders, newest first; a customer's filter is always its own id. */
export async function listOrders(Order: OrderModel, params: ListOrdersParams, caller: Caller | null): Promise<OrderPage> {
	const window = pageWindow(params.page, params.pageSize, MAX_PAGE_SIZE);
	const where: WhereOptions<OrderRow> = {};
	if (params.status) where.status = params.status;
	const customerId = customerFilterOfList(params.customerId, caller);
	if (customerId) where.customerId = customerId;

	const { rows, count } = await Order.findAndCountAll({
		where,
		limit: window.limit,
		offset: window.offset,
		order: [
			["createdAt", "DESC"],
			["id", "ASC"]
		]
	});
	return {
		rows: rows.map(r => toOrderView(r.get({ plain: true }))),
		...pageInfo(count, window.page, window.pageSize)
	};
}
