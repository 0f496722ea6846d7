/** The part of madge's API (it ships no types) that test/unit/architecture.spec.ts uses. */
declare module "madge" {
	interface MadgeConfig {
		fileExtensions?: string[];
		tsConfig?: string;
	}
	interface MadgeResult {
		/** Each import cycle, as the files along it. */
		circular(): string[][];
	}
	function madge(paths: string | string[], config?: MadgeConfig): Promise<MadgeResult>;
	export = madge;
}
