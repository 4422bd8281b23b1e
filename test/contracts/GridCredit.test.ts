import { expect } from "chai";
import hre from "hardhat";
import { upgrades as upgradesFor } from "@openzeppelin/hardhat-upgrades";
import type { GridAccessManager, GridCredit } from "../../types/ethers-contracts/index.js";

const GRID_OPERATOR = 2n;

describe("GridCredit", () => {
  it("mints only through the grid operator role", async () => {
    const connection = await hre.network.create();
    const { ethers } = connection;
    const upgrades = await upgradesFor(hre, connection);
    const [admin, grid, user] = await ethers.getSigners();
    const manager = (await upgrades.deployProxy(
      await ethers.getContractFactory("GridAccessManager"),
      [admin!.address],
      { kind: "uups" },
    )) as unknown as GridAccessManager;
    const credit = (await upgrades.deployProxy(
      await ethers.getContractFactory("GridCredit"),
      [await manager.getAddress()],
      { kind: "uups" },
    )) as unknown as GridCredit;
    const mint = credit.interface.getFunction("mint").selector;
    await manager.setTargetFunctionRole(await credit.getAddress(), [mint], GRID_OPERATOR);
    await manager.grantRole(GRID_OPERATOR, grid!.address, 0);

    await expect(credit.connect(user!).mint(user!.address, 5n, ethers.ZeroHash))
      .to.be.revertedWithCustomError(credit, "AccessManagedUnauthorized")
      .withArgs(user!.address);
    await expect(credit.connect(grid!).mint(user!.address, 5n, ethers.ZeroHash))
      .to.emit(credit, "CreditsMinted")
      .withArgs(user!.address, 5n, ethers.ZeroHash);
    expect(await credit.balanceOf(user!.address)).to.equal(5n);
  });
});
